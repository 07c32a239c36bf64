"""Every way in, end to end on the seed corpus with the real models: the OpenAI client, MCP (HTTP and stdio),
the Python API as the README shows it, and `rag chat`."""

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import seed_server

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parent.parent
QUESTION = "Through which country was the money from the first oil sales routed?"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    running, assistant = seed_server(tmp_path_factory.mktemp("interfaces"))
    yield running, assistant
    running.close()


@pytest.fixture(scope="module")
def server(served):
    return served[0]


@pytest.fixture(scope="module")
def seed_index(served):
    return served[1]


def test_the_openai_client_gets_answers_with_citations(server, seed_index):
    from openai import OpenAI

    client = OpenAI(base_url=f"{server.url}/v1", api_key="not-needed-on-loopback")
    assert {m.id for m in client.models.list()} == {"rag-auto", "rag-extractive", "rag-llm", "rag-llm-explain"}
    reply = client.chat.completions.create(model="rag-extractive", messages=[{"role": "user", "content": QUESTION}])
    text = reply.choices[0].message.content
    assert "[1]" in text
    citation = reply.model_extra["citations"][0]
    assert "Qatar" in citation["quote"]
    document = next(d for d in seed_index.store.documents() if Path(d.source).name == citation["source"])
    assert document.text[citation["start"] : citation["end"]] == citation["quote"]

    streamed, final = "", None
    for chunk in client.chat.completions.create(model="rag-extractive", stream=True,
                                                messages=[{"role": "user", "content": QUESTION}]):
        streamed += chunk.choices[0].delta.content or ""
        final = chunk
    assert streamed == text and "Qatar" in final.model_extra["citations"][0]["quote"]
    # No path on the server leaves it: every string in both responses, the `rag` object's hits included.
    for response in (reply, final):
        strings = _strings(response.model_dump())
        assert strings and not [s for s in strings if s.startswith("/") or str(ROOT) in s or "/seeds/" in s]
    assert reply.model_extra["rag"]["hits"][0]["source"] == citation["source"]


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in _strings(v)]
    return []


def _check_mcp(tools, answer, passages, documents):
    assert {"ask", "search", "list_documents"} <= {t.name for t in tools.tools}
    described = {t.name: t.description for t in tools.tools}
    assert "quote" in described["ask"] and "offsets" in described["search"]
    data = answer.structured_content
    assert not data["abstained"] and "Qatar" in data["citations"][0]["quote"]
    assert passages.structured_content["result"] and "start" in passages.structured_content["result"][0]
    assert [d["chunks"] > 0 for d in documents.structured_content["result"]] == [True]


def test_mcp_over_http(server):
    from mcp import Client

    async def session():
        async with Client(f"{server.url}/mcp/") as client:
            return (await client.list_tools(), await client.call_tool("ask", {"question": QUESTION}),
                    await client.call_tool("search", {"question": "oil sales routed", "k": 3}),
                    await client.call_tool("list_documents", {}))

    _check_mcp(*asyncio.run(session()))


def test_mcp_over_stdio(seed_index):
    from mcp import Client, StdioServerParameters

    params = StdioServerParameters(command=sys.executable, args=["-m", "rag.cli", "mcp", "--index", str(seed_index.settings.index_dir)],
                                   env={**os.environ, "HF_HUB_OFFLINE": "1"}, cwd=str(ROOT))

    async def session():
        async with Client(params) as client:
            return (await client.list_tools(), await client.call_tool("ask", {"question": QUESTION}),
                    await client.call_tool("search", {"question": "oil sales routed", "k": 3}),
                    await client.call_tool("list_documents", {}))

    tools, answer, passages, documents = asyncio.run(session())
    _check_mcp(tools, answer, passages, documents)
    from rag.loaders import load_file

    citation = answer.structured_content["citations"][0]  # over stdio, sources are the files' own paths
    assert load_file(citation["source"]).text[citation["start"] : citation["end"]] == citation["quote"]


def test_the_readme_python_example_runs_as_written(tmp_path):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    example = re.search(r"```python\n(from pathlib import Path\nfrom rag import Assistant\n.*?)```", readme, re.S).group(1)
    assert len(example.strip().splitlines()) <= 12
    result = subprocess.run([sys.executable, "-c", example], cwd=tmp_path, capture_output=True, text=True, timeout=240,
                            env={**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert "two metres" in lines[0]
    assert "glacier.md" in lines[1] and "two metres a day" in lines[1]


def test_rag_chat_holds_a_conversation(seed_index):
    script = "\n".join([QUESTION, "/new", "Who commands SOUTHCOM?", "/quit"]) + "\n"
    result = subprocess.run([sys.executable, "-m", "rag.cli", "chat", "--reader", "extractive", "--index",
                             str(seed_index.settings.index_dir)],
                            input=script, capture_output=True, text=True, timeout=240, cwd=ROOT,
                            env={**os.environ, "HF_HUB_OFFLINE": "1", "NO_COLOR": "1"})
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    assert "Qatar" in out and "(new conversation)" in out and "Donovan" in out
    quotes = re.findall(r"^\[1\] (.+) \[(\d+):(\d+)\]\n    \"(.*)\"$", out, re.M)
    assert len(quotes) == 2
    assert str(ROOT) not in out and "/seeds/" not in out  # documents named by title and file name, not by path
    documents = {d.name: d for d in seed_index.store.documents()}
    for label, start, end, quote in quotes:  # offsets into the document's cleaned text, as everywhere
        title, name = re.fullmatch(r"(.+) \((.+)\)", label).groups()
        assert documents[name].title == title
        plain = quote.replace("»", "").replace("«", "")
        assert documents[name].text[int(start) : int(end)] == plain
    assert "»" in out  # the short answer marked inside its quote

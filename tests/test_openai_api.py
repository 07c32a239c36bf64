"""The OpenAI-compatible routes, with fakes: shapes, streaming, login, bad requests."""

import base64
import json
import threading

import pytest

from ui import openai_api


def client_for(assistant, credentials=None):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    app = FastAPI()
    app.include_router(openai_api.router(assistant, credentials, threading.BoundedSemaphore(2)))
    return TestClient(app)


def test_models_are_the_readers(assistant):
    data = client_for(assistant).get("/v1/models").json()
    assert [m["id"] for m in data["data"]] == ["rag-auto", "rag-extractive", "rag-llm", "rag-llm-explain"]


def test_a_completion_answers_the_last_user_message_with_citations(assistant):
    body = {"model": "rag-extractive", "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Tell me about Kilauea."},
        {"role": "assistant", "content": "It is a volcano."},
        {"role": "user", "content": [{"type": "text", "text": "When was the lava lake of Kilauea drained?"}]},
    ]}
    data = client_for(assistant).post("/v1/chat/completions", json=body).json()
    assert data["object"] == "chat.completion" and data["model"] == "rag-extractive"
    assert data["choices"][0]["message"] == {"role": "assistant", "content": "2018 [1]"}
    citation = data["citations"][0]
    assert citation["n"] == 1 and citation["source"] == "volcanoes.md"
    document = assistant.store.document(data["rag"]["citations"][0]["doc_id"])
    assert document.text[citation["start"] : citation["end"]] == citation["quote"] == "Its lava lake was drained in 2018."
    assert data["rag"]["question"] == "When was the lava lake of Kilauea drained?"


def test_streaming_sends_chunks_then_citations_then_done(assistant):
    body = {"model": "rag-extractive", "stream": True, "messages": [{"role": "user", "content": "Where does the Rhine rise?"}]}
    with client_for(assistant).stream("POST", "/v1/chat/completions", json=body) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [line[len("data: "):] for line in response.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert "Swiss Alps" in text and text.endswith("[1]")
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert "Swiss Alps" in chunks[-1]["citations"][0]["quote"]


def test_a_login_is_needed_when_rag_auth_is_set(assistant):
    client = client_for(assistant, ("alice", "secret"))
    body = {"messages": [{"role": "user", "content": "Where does the Rhine rise?"}]}
    assert client.post("/v1/chat/completions", json=body).status_code == 401
    assert client.get("/v1/models", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/v1/models", headers={"Authorization": "Bearer secret"}).status_code == 200
    assert client.get("/v1/models", headers={"Authorization": "Bearer alice:secret"}).status_code == 200
    basic = base64.b64encode(b"alice:secret").decode()
    assert client.post("/v1/chat/completions", json=body, headers={"Authorization": f"Basic {basic}"}).status_code == 200


@pytest.mark.parametrize("body, status, message", [
    ({"messages": []}, 400, "no messages"),
    ({"messages": [{"role": "system", "content": "x"}]}, 400, "no user message"),
    ({"messages": [{"role": "user", "content": "   "}]}, 400, "the question is empty"),
    ({"model": "gpt-9", "messages": [{"role": "user", "content": "hi"}]}, 404, "unknown model"),
    ([1, 2], 400, "JSON object"),
])
def test_bad_requests_say_what_is_wrong(assistant, body, status, message):
    response = client_for(assistant).post("/v1/chat/completions", json=body)
    assert response.status_code == status and message in response.json()["error"]["message"]


def test_after_the_documents_tab_opens_another_index_every_route_answers_from_it(assistant, tmp_path, fake_embedder, fake_reranker):
    import asyncio

    from fastapi.testclient import TestClient

    from rag.assistant import Assistant, Settings
    from ui.server import build_server

    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "harbour.txt").write_text("The harbour office opens at six in the morning.", encoding="utf-8")
    other = Assistant(Settings(index_dir=tmp_path / "other"), embedder=fake_embedder, reranker=fake_reranker)
    other.index_paths([notes])

    app, _ = build_server(assistant)
    client = TestClient(app)
    body = {"model": "rag-extractive", "messages": [{"role": "user", "content": "When does the harbour office open?"}]}

    def documents_over_mcp() -> str:
        result = asyncio.run(app.state.mcp.call_tool("list_documents", {}))
        return json.dumps([part.model_dump() for part in result.content])

    assert client.post("/v1/chat/completions", json=body).json()["rag"]["abstained"]
    assert "harbour" not in documents_over_mcp()

    app.state.chat.open_store(str(tmp_path / "other"))

    answer = client.post("/v1/chat/completions", json=body).json()["rag"]
    assert not answer["abstained"] and answer["citations"][0]["source"] == "harbour.txt"
    assert "harbour.txt" in documents_over_mcp() and "volcanoes" not in documents_over_mcp()


def test_a_request_can_scope_the_question_to_some_documents(assistant):
    body = {"model": "rag-extractive", "messages": [{"role": "user", "content": "When was the lava lake of Kilauea drained?"}]}
    client = client_for(assistant)
    scoped = client.post("/v1/chat/completions", json={**body, "sources": ["rivers*"]}).json()
    assert {h["source"] for h in scoped["rag"]["hits"]} == {"rivers.txt"}  # only the scope is searched
    assert all(c["source"] == "rivers.txt" for c in scoped["citations"])
    wrong = client.post("/v1/chat/completions", json={**body, "sources": ["report.pdf"]})
    assert wrong.status_code == 400 and "no indexed document matches 'report.pdf'" in wrong.json()["error"]["message"]
    bad = client.post("/v1/chat/completions", json={**body, "sources": [3]})
    assert bad.status_code == 400 and "sources must be a list" in bad.json()["error"]["message"]
    typed = client.post("/v1/chat/completions", json={**body, "where": ["type:md"]}).json()
    assert {h["source"] for h in typed["rag"]["hits"]} == {"volcanoes.md"}

"""One web server for everything: the chat window, its gradio_client API, the OpenAI-compatible routes (/v1) and the
MCP tools (/mcp/), with a login required beyond loopback."""

from __future__ import annotations

from rag.assistant import Assistant
from rag.errors import RagError
from ui import render
from ui.app import CONCURRENCY_LIMIT, ChatApp
from ui.documents import MAX_UPLOAD_MB
from ui.blocks import build_app


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def check_exposure(host: str, auth: str | None, *, allow_anonymous: bool = False) -> tuple[str, str] | None:
    """Login credentials from RAG_AUTH, or a refusal to listen beyond this machine without them."""
    credentials = None
    if auth:
        user, _, password = auth.partition(":")
        if not user or not password:
            raise RagError("RAG_AUTH must look like user:password", hint="set RAG_AUTH=alice:secret or unset it")
        credentials = (user, password)
    if host not in LOOPBACK and credentials is None and not allow_anonymous:
        raise RagError(
            f"listening on {host} would let anyone on the network read and change your documents without a login",
            hint="set RAG_AUTH=user:password to require one, or pass --allow-anonymous if that is what you want",
        )
    return credentials


class RequireLogin:
    """ASGI wrapper: the MCP endpoint answers only requests that carry RAG_AUTH's password (when it is set)."""

    def __init__(self, app, credentials: tuple[str, str] | None):
        self.app = app
        self.credentials = credentials

    async def __call__(self, scope, receive, send):
        from ui.openai_api import authorised

        if scope["type"] == "http":
            headers = dict(scope.get("headers") or [])
            header = headers.get(b"authorization", b"").decode("latin-1") or None
            if not authorised(header, self.credentials):
                from starlette.responses import JSONResponse

                await JSONResponse({"error": "a login is required: send Authorization: Bearer PASSWORD"},
                                   status_code=401)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def build_server(assistant: Assistant, *, host: str = "127.0.0.1", auth: str | None = None, read_only: bool = False,
                 allow_anonymous: bool = False):
    """One web app: the chat window at /, its gradio_client API, the OpenAI-compatible routes at /v1 and the MCP
    tools at /mcp/. Returns (FastAPI app, Gradio Blocks)."""
    import contextlib
    import threading

    import gradio as gr
    from fastapi import FastAPI

    from ui import mcp_tools, openai_api

    credentials = check_exposure(host, auth, allow_anonymous=allow_anonymous)
    chat = ChatApp(assistant, read_only=read_only)
    demo = build_app(chat)
    current = lambda: chat.assistant  # noqa: E731  the index the Documents tab's Open chose, for every route
    mcp = mcp_tools.build(current)
    mcp_app = mcp.streamable_http_app(streamable_http_path="/", host=host)

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        async with mcp.session_manager.run():
            yield

    app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.chat, app.state.mcp = chat, mcp  # the parts every route shares, for whoever embeds the app
    app.include_router(openai_api.router(current, credentials, threading.BoundedSemaphore(CONCURRENCY_LIMIT)))
    app.mount("/mcp", RequireLogin(mcp_app, credentials))
    app = gr.mount_gradio_app(app, demo, path="/", auth=credentials, max_file_size=f"{MAX_UPLOAD_MB}mb",
                              css=render.CSS, head=render.HEAD, footer_links=["api"])
    return app, demo


class Running:
    """A server started by `serve(block=False)`: its address, and close() to stop it."""

    def __init__(self, server, thread, url: str):
        self.server, self.thread, self.url = server, thread, url

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def serve(assistant: Assistant, *, host: str = "127.0.0.1", port: int = 7860, auth: str | None = None, block: bool = True,
          read_only: bool = False, allow_anonymous: bool = False):
    """Serve the app; `auth` is 'user:password' to require a login. Beyond loopback a login is required unless
    `allow_anonymous` says otherwise. With block=False, returns a `Running` server at once."""
    import threading
    import time

    import uvicorn

    app, _ = build_server(assistant, host=host, auth=auth, read_only=read_only, allow_anonymous=allow_anonymous)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on"))
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    if block:
        print(f"Serving the chat at {url}/ (OpenAI-compatible API at {url}/v1, MCP at {url}/mcp/)", flush=True)
        server.run()
        return None
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    if not server.started:
        raise RagError(f"the server could not start on {host}:{port}", hint="is the port in use? pass --port N")
    return Running(server, thread, url)

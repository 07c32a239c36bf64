"""The chat window's layout: `build_app(assistant)` returns the Blocks, one function per tab, wired to `ChatApp`."""

from __future__ import annotations

from rag.assistant import Assistant
from rag.loaders import SUPPORTED_SUFFIXES
from ui import render
from ui.app import CONCURRENCY_LIMIT, NO_SOURCES, QUEUE_SIZE, READER_CHOICES, ChatApp, example_questions
from ui.documents import MAX_UPLOAD_MB


def build_app(assistant: Assistant | ChatApp, *, read_only: bool = False):
    """The chat window's Blocks over an assistant (or over a ChatApp the caller keeps, to follow its index)."""
    import gradio as gr

    app = assistant if isinstance(assistant, ChatApp) else ChatApp(assistant, read_only=read_only)
    assistant = app.assistant
    with gr.Blocks(title="Ask your documents") as demo:
        gr.Markdown("## Ask your documents\nAnswers quote your files; every quote links to its exact place in the source.")
        with gr.Tabs(elem_id="rag-tabs") as tabs:
            with gr.Tab("Chat", id="chat"):
                corpus, to_documents, scope = _chat_tab(app, assistant)
            with gr.Tab("Documents", id="documents"):
                _documents_tab(app, assistant, read_only, corpus, scope)
        to_documents.click(lambda: gr.Tabs(selected="documents"), None, [tabs], queue=False, api_visibility="private")
        demo.load(app.corpus_line, None, [corpus], queue=False, api_visibility="private")
        gr.api(app.ask_api, api_name="ask", concurrency_limit=CONCURRENCY_LIMIT, concurrency_id="ask")
        gr.api(app.documents_api, api_name="documents")
    demo.queue(max_size=QUEUE_SIZE, default_concurrency_limit=CONCURRENCY_LIMIT)
    return demo


def _chat_tab(app: "ChatApp", assistant: Assistant):
    """The Chat tab: conversation, question box, scope picker, settings and the sources column."""
    import gradio as gr

    with gr.Row():
        with gr.Column(scale=3):
            chatbot = gr.Chatbot(
                label="Conversation", height=460, render_markdown=False, sanitize_html=True,
                elem_id="rag-chat", buttons=["copy"],
            )
            with gr.Row():
                box = gr.Textbox(placeholder="Ask a question about your documents…", show_label=False, scale=5,
                                 elem_id="rag-question", max_length=2000)
                send = gr.Button("Ask", variant="primary", scale=1, elem_id="rag-ask")
                stop = gr.Button("Stop", variant="secondary", scale=1, elem_id="rag-stop")
            problem = gr.Markdown(visible=False, elem_id="rag-question-error")
            with gr.Row(equal_height=True):
                corpus = gr.Markdown(app.corpus_line(), elem_id="rag-corpus")
                to_documents = gr.Button("Show the documents", size="sm", scale=0, elem_id="rag-to-documents")
            scope = gr.Dropdown(choices=app.document_choices(), value=[], multiselect=True,
                                label="Ask only these documents (none chosen: all of them)",
                                elem_id="rag-scope")
            examples = example_questions() if app.on_seed_corpus() else app.title_questions()
            if examples:
                gr.Examples(examples=examples, inputs=box, label="Try one of these")
            with gr.Accordion("Settings", open=False):
                reader = gr.Radio(READER_CHOICES, value=assistant.settings.reader, label="Reader", elem_id="rag-reader")
                k = gr.Slider(1, 10, value=assistant.settings.k, step=1, label="Passages to retrieve", elem_id="rag-k")
                rerank = gr.Checkbox(value=assistant.settings.retrieval.rerank, elem_id="rag-rerank",
                                     label="Re-read the best passages with the cross-encoder (more accurate, ~0.2 s)")
            clear = gr.Button("New conversation", size="sm")
        with gr.Column(scale=2):
            gr.Markdown("### Sources")
            sources = gr.HTML(NO_SOURCES, elem_id="rag-sources", js_on_load=None)
    kept = gr.State({})
    # gradio hands each handler the browser session's request by this hint: each tab has its own questions.
    for handler in (app.enqueue, app.drain, app.stop, app.new_conversation):
        handler.__func__.__annotations__["request"] = gr.Request
    answering = []
    for trigger in (box.submit, send.click):
        # "multiple": a question sent while the previous one is answered is taken, not ignored.
        asked = trigger(app.enqueue, [box, chatbot], [box, chatbot, problem], queue=False,
                        trigger_mode="multiple", api_visibility="private")
        answering.append(asked.then(app.drain, [chatbot, k, reader, rerank, kept, scope], [chatbot, sources, kept],
                                    concurrency_limit=CONCURRENCY_LIMIT, concurrency_id="ask",
                                    api_visibility="private"))
    stop.click(app.stop, None, None, queue=False, api_visibility="private")
    def show_sources(kept: dict, event) -> str:
        return app.sources_of(kept, event.index)

    show_sources.__annotations__["event"] = gr.SelectData  # gradio passes what was clicked by this hint
    chatbot.select(show_sources, [kept], [sources], queue=False, api_visibility="private")
    clear.click(app.new_conversation, None, None, cancels=answering, queue=False, api_visibility="private").then(
        lambda: ([], NO_SOURCES, "", {}), None, [chatbot, sources, box, kept], queue=False,
        api_visibility="private")
    return corpus, to_documents, scope


def _documents_tab(app: "ChatApp", assistant: Assistant, read_only: bool, corpus, scope) -> None:
    """The Documents tab: upload, the index location, the table of documents, removal."""
    import gradio as gr

    if not read_only:
        upload = gr.File(label=f"Add documents ({', '.join(SUPPORTED_SUFFIXES)}; up to {MAX_UPLOAD_MB} MB each)",
                         file_count="multiple", file_types=list(SUPPORTED_SUFFIXES), elem_id="rag-upload")
        status = gr.Markdown(elem_id="rag-upload-status")
    else:
        gr.Markdown("This server is read-only: documents are listed here but cannot be added or removed.",
                    elem_id="rag-read-only")
    with gr.Row():
        location = gr.Textbox(value=assistant.settings.location, label="Index location (a folder, "
                              "milvus:PATH.db for Milvus Lite, or http://HOST:19530 for a Milvus server)",
                              interactive=not read_only, scale=4, elem_id="rag-store")
        if not read_only:
            open_store = gr.Button("Open", scale=1, elem_id="rag-open-store")
    table = gr.HTML(render.documents_table(app.documents_table()), elem_id="rag-documents", js_on_load=None)
    if not read_only:
        with gr.Row():
            choice = gr.Dropdown(choices=app.document_choices(), label="Document", scale=4, elem_id="rag-remove-choice")
            remove = gr.Button("Remove", variant="stop", scale=1, elem_id="rag-remove")
        # Named, so scripts (and the load benchmark) can add documents as the tab does.
        upload.upload(app.upload, [upload], [status, table, choice], concurrency_limit=1,
                      concurrency_id="write", api_name="upload").then(
            app.corpus_line, None, [corpus], queue=False, api_visibility="private").then(
            app.scope_choices, [scope], [scope], queue=False, api_visibility="private")
        removed = remove.click(app.remove, [choice], [status, table, choice], concurrency_limit=1,
                               concurrency_id="write", api_visibility="private",
                               js="(choice) => choice && confirm('Remove this document from the index?') "
                                  "? choice : null")
        removed.then(app.corpus_line, None, [corpus], queue=False, api_visibility="private").then(
            app.scope_choices, [scope], [scope], queue=False, api_visibility="private")
        open_store.click(app.open_store, [location], [status, table, choice], concurrency_limit=1,
                         concurrency_id="write", api_visibility="private").then(
            app.corpus_line, None, [corpus], queue=False, api_visibility="private").then(
            app.scope_choices, [scope], [scope], queue=False, api_visibility="private")

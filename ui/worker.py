"""The Gradio face of a gateway started as a worker (GATEWAY_ROLE=worker): three API endpoints, no chat.

`/run` takes a wire message (JSON) and optional PNG files and returns the result the same way, reporting the
backend's progress through Gradio's progress events; `/cancel` stops a run by its id; `/health` says how busy
the worker is. Every endpoint needs the `x-gateway-worker-token` header (GATEWAY_WORKER_TOKEN). The page itself
only says what this server is. The work happens in `pipeline.executors.worker_service.WorkerService`.
"""

from __future__ import annotations

import gradio as gr

from pipeline.executors.transport import IP_TOKEN_HEADER, TOKEN_HEADER, pack, sweep_spool, unpack

MAX_FILE_BYTES = 300 * 2**20


def build_worker_ui(service, settings) -> gr.Blocks:
    with gr.Blocks(title="AI image gateway worker", delete_cache=(900, 3600)) as demo:
        gr.Markdown("## AI image gateway — worker\nThis server runs capability requests for a gateway front "
                    "(`GATEWAY_REMOTE_WORKERS`). It has no chat and keeps nothing.")
        with gr.Column(visible=False):
            message_in = gr.JSON(label="message")
            files_in = gr.File(label="files", file_count="multiple", type="filepath")
            run_id = gr.Textbox(label="run_id")
            message_out = gr.JSON(label="result")
            files_out = gr.File(label="files", file_count="multiple")
            status = gr.JSON(label="status")
            triggers = [gr.Button(visible=False) for _ in range(3)]

        def run(message, files, request: gr.Request, progress=gr.Progress()):
            sweep_spool()
            token = _header(request, TOKEN_HEADER)
            try:
                header, blobs = unpack(message, [_path(f) for f in files or []])
            except Exception as exc:  # noqa: BLE001 - a broken message is answered, not raised
                from pipeline.executors.codec import WireError, encode_error

                return pack(encode_error(WireError(f"Unreadable run message: {exc}")), [])
            result, out_blobs = service.run(token, header, blobs,
                                            progress=lambda f, d="": progress(f, desc=d or None))
            if "metadata" in result:  # whether a ZeroGPU quota token came with the call (never the token itself)
                result["metadata"]["x_ip_token_received"] = bool(_header(request, IP_TOKEN_HEADER))
            out, paths = pack(result, out_blobs)
            return out, paths

        def cancel(run_id_value, request: gr.Request):
            return {"cancelled": service.cancel(_header(request, TOKEN_HEADER), run_id_value or "")}

        def health(request: gr.Request):
            return service.health(_header(request, TOKEN_HEADER))

        triggers[0].click(run, [message_in, files_in], [message_out, files_out], api_name="run",
                          concurrency_id="worker-run", concurrency_limit=settings.request_concurrency)
        triggers[1].click(cancel, [run_id], status, api_name="cancel", concurrency_limit=None)
        triggers[2].click(health, None, status, api_name="health", concurrency_limit=None)
    return demo


def _header(request, name: str) -> str:
    headers = getattr(request, "headers", None) or {}
    return headers.get(name, "") if hasattr(headers, "get") else ""


def _path(f) -> str:
    if isinstance(f, dict):
        return f.get("path") or f.get("name")
    return getattr(f, "path", None) or str(f)

"""Start `actorserve serve examples/serve.toml` on a free port, call both protocols over HTTP, stop it with SIGTERM.

`make demo` runs this last. It needs the `server` and `openai` extras (the
`test` extra has both) and examples/models/iris.onnx (`make demo` builds it).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import openai

HERE = Path(__file__).resolve().parent


def main() -> int:
    exe = Path(sys.executable).parent / "actorserve"
    server = subprocess.Popen(  # noqa: S603 - our own entry point, our own config
        [str(exe), "serve", str(HERE / "serve.toml"), "--port", "0"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline().strip()
        print(f"actorserve serve: {line}")
        url = line.removeprefix("listening on ")
        with httpx.Client(base_url=url, timeout=10) as http:
            print("GET  /v2/health/ready ->", http.get("/v2/health/ready").status_code)
            meta = http.get("/v2/models/iris").json()
            print("GET  /v2/models/iris ->", json.dumps(meta["inputs"]))
            tensors = {
                "inputs": [
                    {"name": "X", "shape": [2, 4], "datatype": "FP32", "data": [5.1, 3.5, 1.4, 0.2, 6.7, 3.0, 5.2, 2.3]}
                ]
            }
            answer = http.post("/v2/models/iris/infer", json=tensors)
            labels = next(o["data"] for o in answer.json()["outputs"] if o["name"] == "label")
            print(
                f"POST /v2/models/iris/infer -> {answer.status_code}, labels {labels}, "
                f"answered by {answer.headers['x-actorserve-version']}"
            )
            missing = http.post("/v2/models/nope/infer", json=tensors)
            print(f"POST /v2/models/nope/infer -> {missing.status_code} {missing.json()}")
        with openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0) as client:
            chat = client.chat.completions.create(model="chat", messages=[{"role": "user", "content": "hello"}])
            print(f"openai chat.completions -> {chat.choices[0].message.content!r} ({chat.usage.total_tokens} tokens)")
        server.send_signal(signal.SIGTERM)
        code = server.wait(30)
        print(f"SIGTERM -> drained and exited with code {code}")
        return code
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(10)


if __name__ == "__main__":
    sys.exit(main())

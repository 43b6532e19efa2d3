"""Server-sent events from FastAPI, token by token, as an LLM front end sends them. A client
that goes away stops the generator: Starlette sees the relay's http.disconnect."""

import asyncio
import json

from fastapi import FastAPI
from fastapi.responses import StreamingResponse

from lambda_relay import asgi

app = FastAPI()


@app.get("/")
async def tokens(prompt: str = "stream me a sentence"):
    words = f'You asked: "{prompt}". Here is an answer, one token at a time.'.split(" ")

    async def events():
        for i, word in enumerate(words):
            yield f"id: {i}\nevent: token\ndata: {json.dumps(word + ' ')}\n\n"
            await asyncio.sleep(0.08)
        yield "event: done\ndata: {}\n\n"

    return StreamingResponse(events(), media_type="text/event-stream", headers={"cache-control": "no-cache"})


handler = asgi(app)

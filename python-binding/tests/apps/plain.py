"""A ``stream_handler`` function: a sync generator body, and an upload counted."""

import time

from lambda_relay import Request, Response, stream_handler


async def respond(request: Request):
    if request.path == "/echo":
        return 200, {"content-type": "text/plain"}, str(len(await request.body()))
    n = int(dict(p.split("=") for p in request.query_string.split("&") if "=" in p).get("n", "3"))

    def lines():
        for i in range(n):
            time.sleep(0.01)  # a blocking generator runs in a thread, the relay keeps going
            yield f"line {i}\n"

    return Response(200, {"content-type": "text/plain"}, lines())


handler = stream_handler(respond)

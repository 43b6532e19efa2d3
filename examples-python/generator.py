"""No framework: a plain function whose body is a generator. Each line reaches the client
when it is yielded, a second apart; a blocking generator is fine (it runs in a thread)."""

import time

from lambda_relay import Request, Response, stream_handler


def respond(request: Request) -> Response:
    def lines():
        for i in range(1, 6):
            yield f"line {i} of 5\n"
            if i < 5:
                time.sleep(1)

    return Response(200, {"content-type": "text/plain; charset=utf-8"}, lines())


handler = stream_handler(respond)

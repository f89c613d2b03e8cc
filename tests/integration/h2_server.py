#!/usr/bin/python3
"""A small HTTP/2 server over TLS for upstream_http2_test.

It answers every request with a one-choice chat completion, except the Nth
one (1-based, counted over all connections), which gets the fault the flags
name:
  --refuse N   RST_STREAM(REFUSED_STREAM): the request was not processed
  --goaway N   GOAWAY naming the last stream it processed (the one before),
               keeping the connection until the client closes it: the
               request was not processed
  --reset N    read the request, then reset the TCP connection without an
               answer: the request may have been processed
Prints "listening PORT" when ready, then one line per request:
"request N PATH" when answered, "refused N PATH" / "goaway N PATH" /
"reset N PATH" when faulted. Runs until killed. Debian's python3-h2.
"""
import argparse
import json
import socket
import ssl
import struct
import sys
import threading

import h2.config
import h2.connection
import h2.errors
import h2.events

lock = threading.Lock()
counter = 0


def say(line):
    with lock:
        print(line, flush=True)


def next_number():
    global counter
    with lock:
        counter += 1
        return counter


def answer_body():
    return json.dumps({
        "id": "chatcmpl-h2", "object": "chat.completion", "created": 1, "model": "h2-model",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello over h2"},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 3, "total_tokens": 4},
    }).encode()


def serve(sock, args):
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    paths = {}
    last_answered = 0
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return
            for event in conn.receive_data(data):
                if isinstance(event, h2.events.RequestReceived):
                    paths[event.stream_id] = dict(event.headers).get(b":path", b"").decode()
                elif isinstance(event, h2.events.DataReceived):
                    conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                elif isinstance(event, h2.events.StreamEnded):
                    sid = event.stream_id
                    n = next_number()
                    path = paths.get(sid, "")
                    if n == args.refuse:
                        conn.reset_stream(sid, error_code=h2.errors.ErrorCodes.REFUSED_STREAM)
                        say(f"refused {n} {path}")
                    elif n == args.goaway:
                        # As a server shutting down gracefully: GOAWAY, then
                        # keep the connection until the client closes it.
                        conn.close_connection(error_code=h2.errors.ErrorCodes.NO_ERROR,
                                              last_stream_id=last_answered)
                        say(f"goaway {n} {path}")
                    elif n == args.reset:
                        say(f"reset {n} {path}")
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                        struct.pack("ii", 1, 0))
                        return
                    else:
                        body = answer_body()
                        conn.send_headers(sid, [(":status", "200"),
                                                ("content-type", "application/json"),
                                                ("content-length", str(len(body)))])
                        conn.send_data(sid, body, end_stream=True)
                        last_answered = sid
                        say(f"request {n} {path}")
            sock.sendall(conn.data_to_send())
    except (OSError, ssl.SSLError):
        return
    finally:
        sock.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--refuse", type=int, default=0)
    parser.add_argument("--goaway", type=int, default=0)
    parser.add_argument("--reset", type=int, default=0)
    args = parser.parse_args()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert, args.key)
    context.set_alpn_protocols(["h2"])
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    say(f"listening {listener.getsockname()[1]}")
    while True:
        raw, _ = listener.accept()
        try:
            tls = context.wrap_socket(raw, server_side=True)
        except (OSError, ssl.SSLError):
            raw.close()
            continue
        threading.Thread(target=serve, args=(tls, args), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())

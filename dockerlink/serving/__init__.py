"""How gunicorn serves dockerlink: a worker that parks no thread on a slow client, plain-text
error pages, and an access log with no secret in it.

framing.py    pure, incremental: is a request whole yet (head, body by length or chunks)? de-chunks
worker.py     BufferingWorker: gthread, but a request is read whole by the event loop first
accesslog.py  RedactingLogger: tokens in a query string never reach the access log
"""

"""gunicorn's settings for python_threads.py: one gthread worker process
(its thread count is the command line's --threads), and what it takes to
meet overlap's engine contract."""

import overlap_engine as oe

worker_class = "python_threads.PipelinedThreadWorker"  # gthread, serving pipelined requests
workers = 1
backlog = 4096              # the listen queue (default 2048; the kernel caps it at somaxconn)
worker_connections = 10000  # kept-alive connections count too; beyond it gthread stops accepting
keepalive = 75              # seconds an idle connection is kept (gunicorn's default: 2)
graceful_timeout = 1        # SIGTERM: requests in flight get 1 s, then SIGKILL
limit_request_line = 8190   # gunicorn's largest; its default is 4094
limit_request_field_size = 8190


def post_worker_init(worker):
    """Announces the address once the worker has loaded the app and is about
    to accept: gunicorn's own when_ready hook runs in the master before any
    worker exists. With port 0 this is the port the kernel chose."""
    oe.announce(worker.sockets[0])

"""The HTTP server: Azkaban's AJAX API (``/``, ``/index``, ``/manager``, ``/executor``, ``/schedule``,
``/status``) over the flow engine, with TLS and the embedded executor and scheduler.

:func:`sudoless.server.app.create_app` builds the ASGI application; :class:`sudoless.server.serve.Server`
runs it with uvicorn; ``sudoless server`` is the command line for both.
"""

__all__: list[str] = []  # nothing of its own: use its modules

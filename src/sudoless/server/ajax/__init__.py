"""One module per Azkaban servlet; each declares its :class:`~sudoless.server.dispatch.Servlet`."""

__all__: list[str] = []  # nothing of its own: use its modules

"""One module per Azkaban servlet; each declares its :class:`~sudoless.server.dispatch.Servlet`."""

"""Azkaban's flow triggers: a cron slot starts an instance that waits for its dependencies, then runs the flow.

``dependencies`` holds the dependency types (file, http, sql, flow, and plug-ins); ``instances`` fires
triggers, checks waiting instances and runs or cancels them; the store keeps triggers, instances and each
dependency's state (:mod:`sudoless.store.triggers`), so a restarted server resumes waiting.
"""

__all__: list[str] = []  # nothing of its own: use its modules

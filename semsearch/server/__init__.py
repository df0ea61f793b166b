"""The index served to other programs: one :class:`~.service.Service` (the
operations and their limits) behind the HTTP API and search page (:mod:`.http`,
with :mod:`.guard` for hosts, origins and tokens and :mod:`.listen` for the
socket) and the MCP tools (:mod:`.mcp_tools`, over stdio in :mod:`.mcp_stdio`).
FastAPI and the MCP SDK are the ``serve`` extra, imported only here."""

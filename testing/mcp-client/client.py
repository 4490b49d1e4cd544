"""A line-driven MCP stdio client for the end-to-end tests of `pipeline mcp`.

Starts the server command given after `--` through the official `mcp` Python SDK's
stdio client (pinned by scripts/install-mcp-client.sh), performs the `initialize`
handshake, and prints one JSON line describing the session:

    {"protocol_version": ..., "server_info": {...}, "capabilities": {...}, "instructions": ...}

Then it reads requests from stdin, one JSON object per line, and answers each with one
JSON line on stdout, in order:

    {"op": "list_tools"}                               -> {"result": ListToolsResult}
    {"op": "call_tool", "name": N, "arguments": {...}} -> {"result": CallToolResult}
    {"op": "list_resources"}                           -> {"result": ListResourcesResult}
    {"op": "list_resource_templates"}                  -> {"result": ListResourceTemplatesResult}
    {"op": "read_resource", "uri": U}                  -> {"result": ReadResourceResult}

Results are the SDK's models dumped as their wire JSON (camelCase). A protocol error
(JSON-RPC error response) is answered `{"error": {"code", "message", "data"}}`. End of
stdin closes the session (the SDK closes the server's stdin and waits for it).

Usage: python client.py [--mode legacy|auto] -- /path/to/pipeline mcp --repo DIR

`--mode legacy` (the default) performs the `initialize` handshake, as MCP clients of
today do (Claude Code, Codex); `--mode auto` first probes `server/discover`, as clients
of the 2026-07-28 protocol revision do, and falls back to `initialize`.
"""

import json
import sys

import anyio
from mcp.client import Client
from mcp.client.stdio import StdioServerParameters
from mcp.shared.exceptions import MCPError


def dump(model):
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


async def answer(client, request):
    op = request["op"]
    if op == "list_tools":
        return dump(await client.list_tools())
    if op == "call_tool":
        return dump(await client.call_tool(request["name"], request.get("arguments") or {}))
    if op == "list_resources":
        return dump(await client.list_resources())
    if op == "list_resource_templates":
        return dump(await client.list_resource_templates())
    if op == "read_resource":
        return dump(await client.read_resource(request["uri"]))
    raise ValueError(f"unknown op {op!r}")


def emit(value):
    sys.stdout.write(json.dumps(value) + "\n")
    sys.stdout.flush()


async def main(argv):
    if "--" not in argv or argv.index("--") + 1 >= len(argv):
        print("usage: client.py -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    command = argv[argv.index("--") + 1 :]
    options = argv[1 : argv.index("--")]
    mode = "legacy"
    if options[:1] == ["--mode"] and len(options) == 2:
        mode = options[1]
    elif options:
        print(f"unknown options {options}; usage: client.py [--mode legacy|auto] -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    params = StdioServerParameters(command=command[0], args=command[1:], env=None)
    # cache=None: a run's status changes, every read must reach the server.
    async with Client(params, mode=mode, cache=None) as client:
        info = client.server_info
        emit(
            {
                "protocol_version": client.protocol_version,
                "server_info": dump(info) if info is not None else None,
                "capabilities": dump(client.server_capabilities),
                "instructions": client.instructions,
            }
        )
        while True:
            line = await anyio.to_thread.run_sync(sys.stdin.readline)
            if not line:
                break
            if not line.strip():
                continue
            request = json.loads(line)
            try:
                emit({"result": await answer(client, request)})
            except MCPError as e:
                emit({"error": {"code": e.code, "message": e.message, "data": e.data}})
    return 0


if __name__ == "__main__":
    sys.exit(anyio.run(main, sys.argv))

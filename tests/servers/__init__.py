"""Local test peers: small HTTP servers that speak the protocols nbchat's backends use.

They are test doubles for servers (not models): an OpenAI-compatible server that misbehaves on request, a
text-generation-inference server that follows TGI's documented protocol, and a fixture helper for the real
``transformers serve``. Each stub can also run as a script: ``python tests/servers/tgi_stub.py --port 8080``.
"""

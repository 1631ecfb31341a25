"""Models that run inside ocodex: bundled GGUF weights (`weights`) and llama.cpp's server in-process (`server`).

Nothing here is imported at start-up: `ocodex --help` must stay fast, and `xllamacpp` is an optional extra
(`pip install 'ocodex[local]'`), imported only when a server starts.
"""

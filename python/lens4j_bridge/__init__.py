"""lens4j's Python side: the ops that Java calls, shared by the worker and GraalPy engines.

The worker engine runs ``python -m lens4j_bridge --socket PATH --token-file F`` (see
``server.py``); the GraalPy engine imports this package and calls ``dispatch`` directly.
Every op is registered once in ``lens4j_bridge.ops`` and serves both engines.
"""

PROTOCOL_VERSION = 1

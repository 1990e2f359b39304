"""The project's own models: made here, so that tests and demos need no model hub.

``tiny`` builds small random GPT-2-architecture models with a locally trained tokenizer;
the trained toy models (``toy-induction``, ``toy-ioi``) live under ``toy/models``.
"""

"""The project's own models: made here, so that tests and demos need no model hub.

``tiny`` builds small random GPT-2-architecture models with a locally trained tokenizer;
the toy models live under ``toy/models``: ``toy-ioi`` trained by ``toy.train``,
``toy-induction`` built by hand by ``toy.handmade``.
"""

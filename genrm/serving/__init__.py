"""Serving a judge over HTTP (`genrm serve`).

server.py is the HTTP server (OpenRLHF's remote reward-model protocol and genrm's pairwise
routes); request_batcher.py is the worker that gathers concurrent requests into one judge call
(not to be confused with genrm.forward_batches, which packs one call's rows into forward passes);
protocol.py parses and checks request bodies, naming the bad field.

May import: judges, data, models and the foundation. Nothing below imports it.
"""

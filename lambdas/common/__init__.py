"""The shared runtime library, copied into every Lambda image as the package ``common``.

One job per module: ``config`` (typed settings from the environment), ``observability`` (Powertools
logger/tracer/metrics), ``aws`` (boto3 clients), ``timeutil`` (source timestamps to UTC), ``lake``
(verbatim raw writes and quarantine with deterministic keys), ``hotstore`` (conditional upserts that
never let older state win), ``http_session`` (third-party HTTP with retries), ``secret_cache``
(cached secrets) and ``errors`` (the two failure kinds every handler distinguishes).
"""

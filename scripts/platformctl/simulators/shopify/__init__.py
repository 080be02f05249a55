"""A local Shopify Admin GraphQL API: the wire format, errors and throttling of the real one, no network.

Served on 127.0.0.1 (an ephemeral port) for the local cloud, the tests, ``make demo`` and the benchmarks:

``POST /admin/api/<version>/graphql.json``
    GraphQL with the ``X-Shopify-Access-Token`` header. A missing token answers 401 like Shopify; when
    the local cloud has deployed ``ShopifyAdminApiSecret``, the token must be its ``access_token`` (so
    the real secret flow is exercised), otherwise any token (or ``SimulatorState.access_tokens``) passes.
    Every response carries ``extensions.cost`` with a leaky-bucket ``throttleStatus``; a request that
    costs more than the bucket holds answers a ``THROTTLED`` error, as Shopify does.

    The document is parsed and validated by graphql-core against the declared Admin API subset
    (``schema.py``): a query the real Admin API would refuse (an unknown field or argument, a missing
    required argument, a selection on a scalar, an undeclared variable, ...) answers the same error,
    worded and coded as Shopify does. Each top-level field is resolved by
    ``QUERY_FIELDS[<field name>](state, variables, query)`` and graphql-core completes the value against
    the query's selection set (aliases, fragments, ``__typename``). The registry is the extension point:
    another module adds a resolver with ``QUERY_FIELDS["order"] = ...`` (``field_arguments`` reads a
    field's arguments, ``GraphQLError`` reports an error), and ``node(id:)`` dispatches on the gid's type
    through ``NODE_TYPES``. Built in: ``bulkOperationRunQuery``, ``bulkOperationCancel``,
    ``bulkOperation(id:)``, ``currentBulkOperation``, ``node(id:)`` for ``BulkOperation``,
    ``currentAppInstallation { accessScopes }`` and ``shop``.

``GET /_results/<token>/<file>``
    A bulk result, generated deterministically, with HTTP ``Range`` support and an expiring URL. The
    bulk query's top-level connection chooses the resource: ``orders`` (line items, a customer
    reference, addresses, discounts, refunds, fulfillments and transactions), ``customers`` (one per
    customer id the orders reference, with order counts, amounts and last orders that agree with the
    orders) or ``products`` (the catalogue the line items name, variants as ``ProductVariant`` lines
    with ``__parentId``); parents and children interleaved as ``groupObjects: false`` allows. The
    ``updated_at`` filter of the query selects the window; every behaviour applies to every resource.

``/_simulator/...`` (tests and the demo switch behaviours here; ``SimulatorState.configure`` does the same)
    ``POST /_simulator/control`` merges behaviours (JSON); ``POST /_simulator/reset`` restores the
    defaults (``{"operations": true}`` also forgets the bulk operations); ``GET /_simulator/state``
    shows behaviours, counters and operations; ``POST /_simulator/resources/<type>`` stores REST-shaped
    resources (an object with ``id``, or a list of them) in ``SimulatorState.resources[<type>]``, and
    ``GET`` lists them.

Behaviours (``DEFAULT_BEHAVIOUR`` lists them all):
    ``orders`` (shop size), ``seed``, ``throttle`` (the next N requests answer THROTTLED),
    ``http_error`` ({"status": 503, "times": 1}: the next requests answer that status; 429 carries
    ``Retry-After``), ``user_error`` ({"code": "OPERATION_IN_PROGRESS" | "LIMIT_REACHED" | "INVALID",
    "times": N} for the next bulkOperationRunQuery calls), ``outcome`` ({"status": "COMPLETED" |
    "FAILED" | "CANCELED" | "EXPIRED", "error_code": "ACCESS_DENIED" | "INTERNAL_SERVER_ERROR" |
    "TIMEOUT", "partial_fraction": 0.4}), ``running_polls`` (status reads that still say RUNNING),
    ``expire_url_after_bytes`` (the next result URL breaks off after N bytes and is expired from then
    on), ``cut_after_bytes`` (the next download connection breaks off after N bytes, URL still valid),
    ``url_ttl_seconds``, ``object_count_offset`` (misreport objectCount), ``scopes`` (the app's access
    scopes), ``escape_slashes`` (``\\/`` in the JSONL, as Shopify writes it), ``export_stored``
    (bulk exports also hold the resources stored with ``POST /_simulator/resources/<type>`` whose
    ``updated_at`` is in the window, rendered from their REST shape onto the bulk query: the shop's own
    orders beside the generated ones, so a demo's webhooks and the export agree), and for hostile-input tests
    ``result_url`` (a URL ``bulkOperation`` answers as ``url``/``partialDataUrl`` instead of its own
    signed one) and ``redirect_results`` (a ``Location`` every result request is answered with, 302).

The package, by concern: ``schema`` (the SDL), ``graphql`` (parsing, validation and execution on
graphql-core, Shopify's error shapes), ``orders`` (the generated shop and its JSONL), ``bulk`` (the bulk
operation lifecycle), ``state`` (behaviours, bucket, resources), ``resolvers`` (the top-level fields and
``execute``), ``server`` (HTTP) and ``resources`` (single-resource lookups of stored REST resources).
The simulator is an independent oracle: it shares no conversion code with the Lambdas.
"""

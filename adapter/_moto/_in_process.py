"""LocalRuntime's own clients answered from moto in this process, past botocore's HTTP
layer (a speed-up, per client: nothing global to undo)."""

from __future__ import annotations

import logging
from typing import Any

from ._registry import tuning_enabled

logger = logging.getLogger("adapter.moto")


def answer_in_process(client: Any) -> bool:
    """Answer ``client``'s calls from moto's backends in this process, while moto mocks.

    moto answers a botocore request at ``before-send``: by then botocore's HTTP layer has
    built an HTTP request from the serialized one (emitting signing, user-agent and
    retry-header events on the way), and it then runs the retry handler on the answer: a
    sixth of a DynamoDB or SQS call on a local stack. Here the request botocore
    serialized and validated is taken at ``before-call`` (the hook botocore's own
    ``Stubber`` answers from), prepared once and handed to moto's stubber; moto's answer,
    in its wire format, is parsed by botocore's parser as botocore parses it. Error
    answers raise as they would, their modeled fields included, and are retried as
    botocore's retry handler decides. Skipped: signing (moto checks none), the
    user-agent and retry headers (moto reads neither) and the HTTP request's own events.
    Streamed or compressed operations, and URLs moto lets through, take botocore's path.

    Returns:
        Whether the client is answered in process: not with ``ADAPTER_TUNE_MOTO=0``, nor
        when botocore's or moto's internals are not the ones this was written for (one
        debug log line; the client then takes botocore's whole path, as it would).
    """
    if not tuning_enabled():
        return False
    try:
        from botocore.awsrequest import AWSResponse, create_request_object
        from botocore.endpoint import convert_to_response_dict
        from botocore.httpchecksum import apply_request_checksum, handle_checksum_body
        from moto.core.botocore_stubber import MockRawResponse
        from moto.core.models import botocore_stubber

        endpoint = client._endpoint
        for needed in ("_response_parser_factory", "_add_modeled_error_fields", "_needs_retry"):
            getattr(endpoint, needed)
        botocore_stubber.enabled  # noqa: B018 (moto's switch, read at each call)
    except (ImportError, AttributeError) as exc:
        logger.debug("answer_in_process skipped: %s: %s", type(exc).__name__, exc)
        return False
    protocol = client.meta.service_model.resolved_protocol

    def answered(model: Any, params: dict[str, Any], **_: Any) -> tuple[Any, Any] | None:
        if (
            not botocore_stubber.enabled
            or model.has_streaming_input
            or model.has_streaming_output
            or model.has_event_stream_output
            or model.request_compression
        ):
            return None
        apply_request_checksum(params)
        attempts = 1
        while True:
            request = create_request_object(params).prepare()
            answer = botocore_stubber.process_request(request)
            if answer is None:  # a URL moto lets through: botocore sends it
                return None
            status, headers, body = answer
            # As moto's stubber and botocore's endpoint pass them (the stubs ask for
            # narrower types than botocore itself uses).
            http = AWSResponse(request.url, status, headers, MockRawResponse(body))  # type: ignore[arg-type]
            response = convert_to_response_dict(http, model)
            handle_checksum_body(http, response, params["context"], model)  # type: ignore[arg-type]
            parser = endpoint._response_parser_factory.create_parser(protocol)
            parsed = parser.parse(response, model.output_shape)
            if status < 300:
                break
            endpoint._add_modeled_error_fields(response, parsed, model, parser)
            if not endpoint._needs_retry(attempts, model, params, (http, parsed)):
                break
            attempts += 1
        if "ResponseMetadata" in parsed:
            parsed["ResponseMetadata"]["RetryAttempts"] = attempts - 1
        return http, parsed

    service_id = client.meta.service_model.service_id.hyphenize()
    client.meta.events.register_last(f"before-call.{service_id}", answered)
    return True

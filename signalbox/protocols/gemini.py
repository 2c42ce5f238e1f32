"""Google Gemini's native API: ``POST {base_url}/v1beta/models/{model}:streamGenerateContent?alt=sse``
(streamed) or ``:generateContent`` (whole), the key in ``x-goog-api-key``. ``base_url`` is what the
``google-genai`` SDK takes as ``http_options.base_url``: no version
(``https://generativelanguage.googleapis.com``).

Behind the OpenAI front (pure): system messages become ``systemInstruction``; roles user/model;
``generationConfig`` takes the output limit, temperature, top_p, stop sequences and, where
``response_format`` maps, ``responseMimeType``/``responseJsonSchema``. Function tools go both ways:
``tools`` become ``functionDeclarations`` (``parametersJsonSchema``: OpenAI's parameters are JSON
Schema, which Gemini's OpenAPI-subset ``parameters`` would refuse for keywords such as
``additionalProperties``), ``tool_choice`` becomes ``toolConfig.functionCallingConfig``, assistant
``tool_calls`` become ``functionCall`` parts and ``tool`` messages ``functionResponse`` parts (named
after the earlier call with that id: Gemini matches responses by name).

The stream: every event is a ``GenerateContentResponse`` (no event names, no ``[DONE]``; the last
one has a ``finishReason``); ``usageMetadata`` is cumulative; parts with ``"thought": true`` are
reasoning; a ``functionCall`` part arrives whole and becomes one OpenAI tool call with an id made
here. Gemini 3 signs function calls (``thoughtSignature``) and wants the signature back with the
call in later turns: it rides in the tool call's ``extra_content.google.thought_signature`` (the
field Google's own OpenAI-compatible endpoint uses); a call without one (history from another
model) is sent with Google's documented placeholder.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson

from signalbox.protocols.chat import (
    ChunkWriter,
    arguments_of,
    chosen_function,
    function_of,
    function_tools,
    json_format,
    max_tokens_of,
    refuse_legacy_functions,
    stop_sequences,
    text_of,
)
from signalbox.protocols.openai import error_message as openai_error_message
from signalbox.protocols.sse import event_data
from signalbox.protocols.wire import (
    ChunkSink,
    Content,
    MalformedEvent,
    StreamErrorEvent,
    TranslationError,
)

API_VERSION = "v1beta"
# The ErrorInfo reason of Google's 400 for an invalid API key (the request itself was fine)
API_KEY_INVALID = "API_KEY_INVALID"
LABEL = "Gemini"
# Google's documented placeholder for a function call that Gemini did not sign (its thought
# signature check is skipped); sent only where the app's history carries no signature.
SKIP_SIGNATURE = "skip_thought_signature_validator"
# Gemini finishReason -> OpenAI finish_reason (anything else ends as "stop")
FINISH_REASONS = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
    "IMAGE_PROHIBITED_CONTENT": "content_filter",
    "IMAGE_RECITATION": "content_filter",
}
# HTTP status -> the canonical status name in Gemini's error body ``{"error": {"code", "message",
# "status"}}`` (google.rpc.Code), for the simulator and tests
STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def model_path(upstream_model: str) -> str:
    """``models/{model}`` (a name given with its collection is kept as it is)."""
    if upstream_model.startswith(("models/", "tunedModels/")):
        return upstream_model
    return f"models/{upstream_model}"


def error_body(status: int, message: str) -> dict[str, Any]:
    """Gemini's error body for an HTTP status."""
    return {
        "error": {"code": status, "message": message, "status": STATUS_NAMES.get(status, "UNKNOWN")}
    }


# --- request: OpenAI -> Gemini ------------------------------------------------------------


def translate_request(body: dict[str, Any], upstream_model: str) -> dict[str, Any]:
    """A Gemini ``GenerateContentRequest`` equivalent to an OpenAI chat request (the URL decides
    streaming). Raises :class:`TranslationError` naming the field when there is none."""
    refuse_legacy_functions(body, LABEL)
    system: list[str] = []
    contents: list[dict[str, Any]] = []
    call_names: dict[str, str] = {}  # OpenAI tool-call id -> function name, for the responses
    for i, m in enumerate(body.get("messages") or []):
        where = f"messages[{i}]"
        if not isinstance(m, dict):
            raise TranslationError(f"{where}: must be an object")
        role = m.get("role")
        if role in ("system", "developer"):
            system.append(text_of(m.get("content")))
        elif role == "user":
            _append(contents, "user", _user_parts(m.get("content"), f"{where}.content"))
        elif role == "assistant":
            parts = _model_parts(m, where, call_names)
            _append(contents, "model", parts)
        elif role == "tool":
            _append(contents, "user", [_function_response(m, where, call_names)])
        else:
            raise TranslationError(f"{where}.role: '{role}' is not supported for Gemini endpoints")
    if not contents:
        raise TranslationError(
            "messages: a Gemini endpoint needs at least one user or assistant turn besides the "
            "system prompt"
        )
    out: dict[str, Any] = {"contents": contents}
    if system:
        out["systemInstruction"] = {"parts": [{"text": "\n".join(system)}]}
    config = _generation_config(body)
    if config:
        out["generationConfig"] = config
    declarations = []
    for name, description, schema in function_tools(body.get("tools"), LABEL):
        declaration: dict[str, Any] = {"name": name}
        if description:
            declaration["description"] = description
        if schema:
            declaration["parametersJsonSchema"] = schema
        declarations.append(declaration)
    if declarations:
        out["tools"] = [{"functionDeclarations": declarations}]
    calling = _function_calling(body.get("tool_choice"), {d["name"] for d in declarations})
    if calling is not None:
        out["toolConfig"] = {"functionCallingConfig": calling}
    return out


def _append(contents: list[dict[str, Any]], role: str, parts: list[dict[str, Any]]) -> None:
    """Add a turn, merging it into the previous one of the same role (tool results of one turn,
    or a user message right after them, travel together)."""
    if contents and contents[-1]["role"] == role:
        contents[-1]["parts"].extend(parts)
    else:
        contents.append({"role": role, "parts": parts})


def _user_parts(content: Any, where: str) -> list[dict[str, Any]]:
    """A user message's content as parts: text, and images given as ``data:`` URLs."""
    if content is None or isinstance(content, str):
        return [{"text": content or ""}]
    if not isinstance(content, list):
        raise TranslationError(f"{where}: must be a string or a list of content parts")
    parts = []
    for j, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            parts.append({"text": str(part.get("text") or "")})
        elif kind == "image_url":
            parts.append(_inline_image(part.get("image_url"), f"{where}[{j}].image_url"))
        else:
            raise TranslationError(
                f"{where}[{j}].type: only 'text' and 'image_url' (data: URL) parts are "
                f"translated for Gemini endpoints, got {kind!r}"
            )
    return parts or [{"text": ""}]


def _inline_image(image: Any, where: str) -> dict[str, Any]:
    """An OpenAI ``image_url`` holding ``data:<mime>;base64,<data>`` as Gemini ``inlineData``."""
    url = image.get("url") if isinstance(image, dict) else None
    if isinstance(url, str) and url.startswith("data:") and ";base64," in url:
        mime, _, data = url[5:].partition(";base64,")
        return {"inlineData": {"mimeType": mime, "data": data}}
    raise TranslationError(
        f"{where}.url: only data: URLs (base64) are translated for Gemini endpoints"
    )


def _model_parts(
    message: dict[str, Any], where: str, call_names: dict[str, str]
) -> list[dict[str, Any]]:
    """An assistant message as ``model`` parts: its text, then a ``functionCall`` per tool call."""
    text = text_of(message.get("content"))
    parts: list[dict[str, Any]] = [{"text": text}] if text else []
    calls = message.get("tool_calls")
    if not calls:
        return parts or [{"text": ""}]
    if not isinstance(calls, list):
        raise TranslationError(f"{where}.tool_calls: must be a list")
    for j, call in enumerate(calls):
        at = f"{where}.tool_calls[{j}]"
        fn, name = function_of(call, at, "tool calls", "name and arguments", LABEL, "function")
        call_id = call.get("id")
        if isinstance(call_id, str) and call_id:
            call_names[call_id] = name
        part: dict[str, Any] = {
            "functionCall": {
                "name": name,
                "args": arguments_of(fn.get("arguments"), f"{at}.function.arguments", LABEL),
            }
        }
        signature = _signature(call)
        if signature or j == 0:  # Gemini signs the first call of a turn (parallel ones: none)
            part["thoughtSignature"] = signature or SKIP_SIGNATURE
        parts.append(part)
    return parts


def _signature(call: dict[str, Any]) -> str | None:
    """The thought signature a tool call carries in ``extra_content.google``, if any."""
    extra = call.get("extra_content")
    google = extra.get("google") if isinstance(extra, dict) else None
    signature = google.get("thought_signature") if isinstance(google, dict) else None
    return signature if isinstance(signature, str) and signature else None


def _function_response(
    message: dict[str, Any], where: str, call_names: dict[str, str]
) -> dict[str, Any]:
    """A ``tool`` message as a ``functionResponse`` part, named after the call it answers."""
    call_id = message.get("tool_call_id")
    if not isinstance(call_id, str) or not call_id:
        raise TranslationError(f"{where}.tool_call_id: required, a non-empty string")
    name = call_names.get(call_id)
    if name is None:
        raise TranslationError(
            f"{where}.tool_call_id: {call_id!r} answers no earlier assistant tool call; Gemini "
            "needs the function's name, so send the assistant message with that call first"
        )
    text = text_of(message.get("content"))
    try:
        value = orjson.loads(text) if text else None
    except orjson.JSONDecodeError:
        value = None
    # Gemini's response is a JSON object; "output" is its documented key for a plain result.
    response = value if isinstance(value, dict) else {"output": text}
    return {"functionResponse": {"name": name, "response": response}}


def _generation_config(body: dict[str, Any]) -> dict[str, Any]:
    """``generationConfig`` from the OpenAI sampling and output fields."""
    config: dict[str, Any] = {}
    limit = max_tokens_of(body)
    if limit is not None:
        config["maxOutputTokens"] = limit
    if body.get("temperature") is not None:
        config["temperature"] = body["temperature"]
    if body.get("top_p") is not None:
        config["topP"] = body["top_p"]
    stop = stop_sequences(body)
    if stop:
        config["stopSequences"] = stop
    n = body.get("n")
    if n is not None and n != 1:
        raise TranslationError(f"n: only one choice is translated for Gemini endpoints, got {n!r}")
    config.update(_response_format(body.get("response_format")))
    return config


def _response_format(fmt: Any) -> dict[str, Any]:
    """OpenAI ``response_format`` as ``responseMimeType`` (+ ``responseJsonSchema``)."""
    wants_json, schema = json_format(fmt, LABEL)
    if not wants_json:
        return {}
    out: dict[str, Any] = {"responseMimeType": "application/json"}
    if schema is not None:
        out["responseJsonSchema"] = schema
    return out


def _function_calling(choice: Any, tool_names: set[str]) -> dict[str, Any] | None:
    """OpenAI ``tool_choice`` as ``functionCallingConfig`` (``parallel_tool_calls`` has no Gemini
    counterpart). ``"none"`` keeps the tools with mode NONE: a history of calls needs them."""
    if not tool_names:
        if choice in (None, "none", "auto"):
            return None
        raise TranslationError(f"tool_choice: {choice!r} needs 'tools' to choose from")
    if choice is None:
        return None  # Gemini's default is AUTO, as OpenAI's is
    name = chosen_function(choice, tool_names, LABEL)
    if name is not None:
        return {"mode": "ANY", "allowedFunctionNames": [name]}
    return {"mode": {"auto": "AUTO", "required": "ANY", "none": "NONE"}[choice]}


# --- stream: Gemini -> OpenAI -------------------------------------------------------------


class GeminiReader:
    """One Gemini stream: usage and the finish tracked, each response chunk translated to an
    OpenAI chunk; the finish chunk also ends the OpenAI stream (usage chunk, ``[DONE]``)."""

    __slots__ = (
        "calls",
        "done",
        "finish_reason",
        "finished",
        "input_tokens",
        "out",
        "output_tokens",
        "reasoning_tokens",
        "started",
    )

    def __init__(self, out: ChunkWriter) -> None:
        self.out = out
        self.finished = False
        self.finish_reason: str | None = None  # as OpenAI's
        self.done = False
        self.started = False  # the role chunk was sent
        self.calls = 0  # tool calls so far (their OpenAI indices)
        self.input_tokens: int | None = None
        self.output_tokens: int | None = None
        self.reasoning_tokens: int | None = None

    def read(self, raw: bytes) -> tuple[Content, bytes]:
        """Fold one event; return its content kind and the OpenAI events it becomes."""
        data = event_data(raw)
        if data is None or not data.strip():
            return Content.NONE, b""
        try:
            event: Any = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise MalformedEvent("malformed event: data is not JSON") from None
        if not isinstance(event, dict):
            raise MalformedEvent("malformed event: data is not a JSON object")
        if event.get("error") is not None:
            err = event["error"]
            message = err.get("message") or err.get("status") if isinstance(err, dict) else err
            raise StreamErrorEvent(str(message or "error event")[:300])
        self._usage(event.get("usageMetadata"))
        if self.done:
            return Content.NONE, b""
        if event.get("responseId") and not self.started:
            self.out.id = "chatcmpl-" + str(event["responseId"])
        candidates = event.get("candidates")
        candidate = candidates[0] if isinstance(candidates, list) and candidates else None
        if candidate is not None and not isinstance(candidate, dict):
            raise MalformedEvent("malformed event: a candidate is not an object")
        kind, delta = self._delta(candidate)
        finish = candidate.get("finishReason") if candidate else None
        if finish is None and candidate is None:
            blocked = (event.get("promptFeedback") or {}).get("blockReason")
            finish = "SAFETY" if blocked else None  # the prompt was refused: no candidate at all
        if not (delta or finish):
            return kind, b""
        if not self.started:
            self.started = True
            delta = (
                {"role": "assistant", **delta} if delta else {"role": "assistant", "content": ""}
            )
        out = self.out.delta(delta) if delta else b""
        if finish:
            self.finished = self.done = True
            reason = FINISH_REASONS.get(finish, "stop")
            if reason == "stop" and self.calls:
                reason = "tool_calls"
            self.finish_reason = reason
            out += self.out.delta({}, reason)
            out += self.out.end(self.input_tokens, self.output_tokens, self.reasoning_tokens)
        return kind, out

    def _delta(self, candidate: dict[str, Any] | None) -> tuple[Content, dict[str, Any]]:
        """The OpenAI delta of one candidate's parts, and the content kind they carry."""
        content = (candidate or {}).get("content")
        parts = content.get("parts") if isinstance(content, dict) else None
        if not parts:
            return Content.NONE, {}
        if not isinstance(parts, list):
            raise MalformedEvent("malformed event: parts is not a list")
        kind = Content.NONE
        text: list[str] = []
        thought: list[str] = []
        calls: list[dict[str, Any]] = []
        for part in parts:
            if not isinstance(part, dict):
                raise MalformedEvent("malformed event: a part is not an object")
            call = part.get("functionCall")
            if isinstance(call, dict):
                calls.append(self._tool_call(call, part.get("thoughtSignature")))
                kind = Content.ANSWER
            elif part.get("text"):
                if part.get("thought"):
                    thought.append(part["text"])
                    if kind is Content.NONE:
                        kind = Content.REASONING
                else:
                    text.append(part["text"])
                    kind = Content.ANSWER
        delta: dict[str, Any] = {}
        if thought:
            delta["reasoning_content"] = "".join(thought)
        if text:
            delta["content"] = "".join(text)
        if calls:
            delta["tool_calls"] = calls
        return kind, delta

    def _tool_call(self, call: dict[str, Any], signature: Any) -> dict[str, Any]:
        """A whole Gemini ``functionCall`` as one OpenAI tool-call delta, with an id."""
        args = call.get("args")
        out: dict[str, Any] = {
            "index": self.calls,
            "id": str(call.get("id") or "call_" + uuid.uuid4().hex[:24]),
            "type": "function",
            "function": {
                "name": str(call.get("name") or ""),
                "arguments": orjson.dumps(args if isinstance(args, dict) else {}).decode(),
            },
        }
        if isinstance(signature, str) and signature:
            out["extra_content"] = {"google": {"thought_signature": signature}}
        self.calls += 1
        return out

    def _usage(self, usage: Any) -> None:
        """``usageMetadata``: prompt tokens in; candidates plus thoughts out (both are generated
        and billed as output, as OpenAI's ``completion_tokens`` counts reasoning)."""
        if not isinstance(usage, dict):
            return
        if isinstance(usage.get("promptTokenCount"), int):
            self.input_tokens = usage["promptTokenCount"]
        answer = usage.get("candidatesTokenCount")
        thoughts = usage.get("thoughtsTokenCount")
        if isinstance(answer, int) or isinstance(thoughts, int):
            answer = answer if isinstance(answer, int) else 0
            thoughts = thoughts if isinstance(thoughts, int) else 0
            self.output_tokens = answer + thoughts
            self.reasoning_tokens = thoughts or None


class GeminiProtocol:
    """Google's Gemini API (``generativelanguage``) wire format."""

    name = "gemini"
    base_path = ""

    def url(self, base_url: str, upstream_model: str, *, stream: bool) -> str:
        """``:streamGenerateContent?alt=sse`` (server-sent events) or ``:generateContent``."""
        method = "streamGenerateContent?alt=sse" if stream else "generateContent"
        return f"{base_url}/{API_VERSION}/{model_path(upstream_model)}:{method}"

    def headers(self, api_key: str | None) -> dict[str, str]:
        """JSON in, SSE out, ``x-goog-api-key`` (never the ``?key=`` query: URLs get logged)."""
        headers = {"content-type": "application/json", "accept": "text/event-stream"}
        if api_key:
            headers["x-goog-api-key"] = api_key
        return headers

    def probe_request(self, upstream_model: str, prompt: str, max_tokens: int) -> dict[str, Any]:
        """One small generation (the URL makes it a stream)."""
        return {
            "contents": [{"role": "user", "parts": [{"text": prompt}]}],
            "generationConfig": {"maxOutputTokens": max_tokens, "temperature": 0},
        }

    def request(self, body: dict[str, Any], upstream_model: str) -> dict[str, Any]:
        """:func:`translate_request`."""
        return translate_request(body, upstream_model)

    def reader(
        self, model: str, *, include_usage: bool, relay: bool = True, sink: ChunkSink | None = None
    ) -> GeminiReader:
        """A reader translating to OpenAI chunks named ``model``."""
        return GeminiReader(ChunkWriter(model, include_usage, relay, sink))

    def error_message(self, body: bytes) -> str | None:
        """``{"error": {"code", "message", "status"}}`` (also inside a list, as Gemini answers
        a stream request made without ``alt=sse``)."""
        if body[:1] == b"[":
            try:
                parsed = orjson.loads(body)
            except orjson.JSONDecodeError:
                parsed = None
            if isinstance(parsed, list) and parsed and isinstance(parsed[0], dict):
                body = orjson.dumps(parsed[0])
        return openai_error_message(body)

    def provider_refusal(self, status: int, body: bytes) -> bool:
        """Google answers an invalid API key with 400 INVALID_ARGUMENT (reason
        ``API_KEY_INVALID``): the endpoint's configuration, not the app's request."""
        return status == 400 and API_KEY_INVALID.encode() in body


PROTOCOL = GeminiProtocol()

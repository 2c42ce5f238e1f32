"""Component ids, as constants, so layouts, callbacks and tests agree on them."""

from __future__ import annotations

# shell
URL = "url"
PAGE = "page"
REFRESH = "refresh"
NAV = "nav"

# overview
OVERVIEW_ALERTS = "overview-alerts"
OVERVIEW_MODELS = "overview-models"
OVERVIEW_STATUS = "overview-status"
OVERVIEW_RENDERED = "overview-rendered"  # dcc.Store: the models the cards were built for
OV_TABLE = "ov-table"  # pattern id type: {"type": OV_TABLE, "model": name}
OV_SPARK = "ov-spark"  # pattern id type: {"type": OV_SPARK, "model": name}

# model page
MODEL_SELECT = "model-select"
MODEL_WINDOW = "model-window"
MODEL_SOURCE = "model-source"
MODEL_STATUS = "model-status"
MODEL_TTFT = "model-ttft"
MODEL_TPS = "model-tps"
MODEL_ERRORS = "model-errors"
MODEL_COST = "model-cost"
MODEL_SAMPLES = "model-samples"
MODEL_GRAPHS = (MODEL_TPS, MODEL_TTFT, MODEL_ERRORS, MODEL_COST, MODEL_SAMPLES)

# alerts page
ALERTS_STATUS = "alerts-status"
ALERTS_FIRING = "alerts-firing"
ALERTS_HISTORY = "alerts-history"
ALERTS_TIMELINE = "alerts-timeline"

# routing page
ROUTING_MODEL = "routing-model"
ROUTING_WINDOW = "routing-window"
ROUTING_STATUS = "routing-status"
ROUTING_SHARE = "routing-share"
ROUTING_REASONS = "routing-reasons"
ROUTING_RECENT = "routing-recent"

# replay page
REPLAY_MODEL = "replay-model"
REPLAY_OBJECTIVE = "replay-objective"
REPLAY_POLICY = "replay-policy"
REPLAY_STEP = "replay-step"
REPLAY_ONLY = "replay-only"
REPLAY_IGNORE = "replay-ignore"
REPLAY_MAX_PRICE = "replay-max-price"
REPLAY_MAX_ERROR_RATE = "replay-max-error-rate"
REPLAY_STATUS = "replay-status"
REPLAY_TABLE = "replay-table"
REPLAY_GAINS = "replay-gains"
REPLAY_SHARES = "replay-shares"

# routes page
ROUTES_ROUTE = "routes-route"
ROUTES_WINDOW = "routes-window"
ROUTES_STATUS = "routes-status"
ROUTES_ESCALATION = "routes-escalation"
ROUTES_COST = "routes-cost"
ROUTES_PATHS = "routes-paths"
ROUTES_TRIGGERS = "routes-triggers"
ROUTES_RECENT = "routes-recent"
ROUTES_GRAPHS = (ROUTES_ESCALATION, ROUTES_COST, ROUTES_PATHS, ROUTES_TRIGGERS)

"""The study server's Flask app factory: nothing is created at import time."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from study import admin, api, images, pages, security
from study.config import ServerConfig
from study.httperrors import register_error_handlers
from study.runtime import EXTENSION, StudyRuntime, runtime, start_runtime

__all__ = ["ServerConfig", "StudyRuntime", "create_app", "runtime"]
FILLER = "crnkit_vacancies"


def _server_config(test_config: dict[str, Any] | ServerConfig | None) -> ServerConfig:
    if test_config is None:
        return ServerConfig.from_env(os.environ)
    if isinstance(test_config, ServerConfig):
        return test_config
    return ServerConfig.from_mapping(test_config)


def create_app(test_config: dict[str, Any] | ServerConfig | None = None) -> Flask:
    """Build the study app from `test_config` (dict or ServerConfig) or CRNKIT_STUDY_* variables."""
    config = _server_config(test_config)
    app = Flask(__name__)
    app.config.from_mapping(
        MAX_CONTENT_LENGTH=config.max_body_bytes,
        TEMPLATES_AUTO_RELOAD=False,
    )
    if isinstance(test_config, dict):
        app.config.from_mapping({k: v for k, v in test_config.items() if k.isupper()})
    app.json.sort_keys = False
    app.extensions[EXTENSION] = rt = start_runtime(config)
    if config.enrol_pool > 0:
        from study.vacancies import start_filler

        app.extensions[FILLER] = start_filler(rt, config.enrol_pool)
    if config.trust_proxy:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1, x_prefix=1)
    register_error_handlers(app)
    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(images.bp)
    app.register_blueprint(admin.bp)
    security.init_security(app)
    return app

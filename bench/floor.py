"""The floor the service's cost per request is measured against: a bare FastAPI app doing only the essential
work of each endpoint (nothing for ``/health``; one Redis HGET of the cached entry for a product read), with
the same Redis client settings and served by uvicorn with the same settings as the service (bench/cost.py).

    HA_REDIS_HOST=... HA_REDIS_PORT=... HA_REDIS_PASSWORD=... HA_PORT=... python -m bench.floor
"""

import os

import redis.asyncio as redis
from fastapi import FastAPI, Response
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from app.cache import TIMEOUT_SECONDS, ProductCache


def create_floor_app(host: str, port: int, password: str | None) -> FastAPI:
    """Two routes, no middleware, no logging, no metrics."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    client = redis.Redis(
        host=host,
        port=port,
        password=password,
        socket_timeout=TIMEOUT_SECONDS,
        socket_connect_timeout=TIMEOUT_SECONDS,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=0,
        decode_responses=True,
        max_connections=50,
    )

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/products/{product_id}")
    async def product(product_id: int) -> Response:
        raw = await client.hget(ProductCache.key(product_id), "j")
        return Response(raw, media_type="application/json")

    return app


def app_from_environment() -> FastAPI:
    return create_floor_app(
        os.environ["HA_REDIS_HOST"], int(os.environ["HA_REDIS_PORT"]), os.environ.get("HA_REDIS_PASSWORD")
    )


if __name__ == "__main__":
    import uvicorn

    from app.http import JsonErrorsHttpTools

    uvicorn.run(  # the service's settings (app.main.run)
        "bench.floor:app_from_environment",
        factory=True,
        host="127.0.0.1",
        port=int(os.environ["HA_PORT"]),
        timeout_graceful_shutdown=25,
        access_log=False,
        log_config=None,
        http=JsonErrorsHttpTools,
    )

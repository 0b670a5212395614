"""The demo shop's services: frontend, checkout, payment, inventory and the order worker.

Faults are part of the design (see README.md): payment answers 503 or raises
now and then, inventory runs a slow query now and then, checkout rejects some
coupons with an exception, the worker's e-mail step times out now and then,
and the frontend's recommendations call inventory without propagating context.
"""

from __future__ import annotations

import random
import sqlite3
import threading
import time
import uuid
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import SpanKind

from traceway.demo.web import HTTPError, Service, call, raw_call
from traceway.instrument import consume, produce, traced

SKUS = [f"sku-{n}" for n in range(1, 21)]
QUEUE_SYSTEM = "traceway-demo-queue"
ORDERS = "orders"


class CouponError(ValueError):
    """A coupon code that does not exist."""


class AcquirerTimeoutError(TimeoutError):
    """The card acquirer did not answer in time."""


class SMTPTimeoutError(TimeoutError):
    """The mail relay did not answer in time."""


def frontend(peers: dict[str, str]) -> Service:
    svc = Service("frontend")

    @svc.route("POST", "/checkout")
    def checkout(body: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        status, answer = call("POST", f"{peers['checkout']}/checkout", body, peer="checkout")
        if status >= 400:
            raise HTTPError(502 if status >= 500 else status, f"checkout failed: {answer.get('error', status)}")
        return answer

    @svc.route("GET", "/product")
    def product(body: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        sku = query.get("sku", SKUS[0])
        status, stock = call("GET", f"{peers['inventory']}/stock?sku={sku}", peer="inventory")
        if status >= 500:
            raise HTTPError(502, "inventory unavailable")
        return {"sku": sku, "available": stock.get("available", 0)}

    @svc.route("GET", "/recommendations")
    def recommendations(body: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        sku = random.choice(SKUS)
        # Deliberately broken: this call does not inject the trace context, so
        # inventory starts a new trace (see README.md, "The broken trace").
        _status, stock = call("GET", f"{peers['inventory']}/stock?sku={sku}&source=recommendations", peer="inventory", propagate=False)
        return {"recommended": [sku] if stock.get("available", 0) > 0 else []}

    return svc


def checkout(peers: dict[str, str]) -> Service:
    svc = Service("checkout")

    @traced("validate coupon")
    def validate_coupon(code: str | None) -> None:
        if code is not None and random.random() < 0.5:
            raise CouponError(f"unknown coupon code {code!r}")

    @svc.route("POST", "/checkout")
    def place_order(body: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        order_id = uuid.uuid4().hex[:12]
        items = body.get("items") or [{"sku": random.choice(SKUS), "qty": 1}]
        trace.get_current_span().set_attribute("order.id", order_id)
        validate_coupon(body.get("coupon"))
        status, _ = call("POST", f"{peers['inventory']}/reserve", {"order_id": order_id, "items": items}, peer="inventory")
        if status == 409:
            raise HTTPError(409, "out of stock")
        if status >= 500:
            raise HTTPError(502, "inventory unavailable")
        amount = round(sum(item.get("qty", 1) for item in items) * 19.99, 2)
        for _attempt in range(2):  # one retry on a 5xx from payment
            status, charge = call("POST", f"{peers['payment']}/charge", {"order_id": order_id, "amount": amount}, peer="payment")
            if status < 500:
                break
        if status >= 400:
            raise HTTPError(502, f"payment failed: {charge.get('error', status)}")
        with produce(ORDERS, system=QUEUE_SYSTEM, message_id=order_id) as headers:
            raw_call("POST", f"{peers['queue']}/publish", {"queue": ORDERS, "id": order_id, "headers": dict(headers), "body": {"order_id": order_id, "amount": amount}})
        return {"order_id": order_id, "charge_id": charge.get("charge_id"), "status": "confirmed"}

    return svc


def payment(peers: dict[str, str]) -> Service:
    svc = Service("payment")

    @traced("authorize card")
    def authorize(order_id: str, amount: float) -> str:
        time.sleep(random.uniform(0.005, 0.03))
        if random.random() < 0.06:
            raise AcquirerTimeoutError(f"acquirer did not answer for order {order_id}")
        return f"ch_{uuid.uuid4().hex[:10]}"

    @svc.route("POST", "/charge")
    def charge(body: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        with svc.tracer.start_as_current_span("fraud check") as span:
            score = random.random()
            span.set_attribute("fraud.score", round(score, 3))
            time.sleep(0.002)
        if random.random() < 0.10:
            raise HTTPError(503, "card processor unavailable")
        return {"charge_id": authorize(body.get("order_id", "?"), float(body.get("amount", 0)))}

    return svc


def inventory(peers: dict[str, str]) -> Service:
    svc = Service("inventory")
    db = sqlite3.connect(":memory:", check_same_thread=False)
    db.execute("CREATE TABLE stock (sku TEXT PRIMARY KEY, available INTEGER)")
    db.executemany("INSERT INTO stock VALUES (?, ?)", [(sku, 1_000_000) for sku in SKUS])
    lock = threading.Lock()

    def query(sql: str, args: tuple[Any, ...], operation: str) -> list[tuple[Any, ...]]:
        with svc.tracer.start_as_current_span(
            f"{operation} stock", kind=SpanKind.CLIENT,
            attributes={"db.system": "sqlite", "db.operation.name": operation, "db.collection.name": "stock", "db.query.text": sql},
        ) as span:
            if random.random() < 0.07:  # now and then the query plan goes wrong
                span.set_attribute("demo.slow_query", True)
                time.sleep(random.uniform(0.3, 0.9))
            with lock:
                rows = db.execute(sql, args).fetchall()
                db.commit()
            return rows

    @svc.route("GET", "/stock")
    def stock(body: dict[str, Any], q: dict[str, str]) -> dict[str, Any]:
        rows = query("SELECT available FROM stock WHERE sku = ?", (q.get("sku", ""),), "SELECT")
        return {"sku": q.get("sku"), "available": rows[0][0] if rows else 0}

    @svc.route("POST", "/reserve")
    def reserve(body: dict[str, Any], q: dict[str, str]) -> dict[str, Any]:
        if random.random() < 0.03:
            raise HTTPError(409, "out of stock")
        for item in body.get("items", []):
            query("UPDATE stock SET available = available - ? WHERE sku = ?", (int(item.get("qty", 1)), item.get("sku", "")), "UPDATE")
        return {"reserved": True}

    return svc


def run_worker(peers: dict[str, str], stop: threading.Event) -> None:
    """Take orders off the queue and send confirmation e-mails, continuing each producer's trace."""
    tracer = trace.get_tracer("traceway.demo.worker")

    @traced("send confirmation email", tracer=tracer)
    def send_email(order: dict[str, Any]) -> None:
        with tracer.start_as_current_span("render receipt"):
            time.sleep(0.002)
        time.sleep(random.uniform(0.005, 0.02))
        if random.random() < 0.05:
            raise SMTPTimeoutError(f"mail relay timed out for order {order.get('order_id')}")

    while not stop.is_set():
        try:
            status, message = raw_call("POST", f"{peers['queue']}/poll", {"queue": ORDERS, "wait_s": 1.0}, timeout_s=5)
        except OSError:
            time.sleep(0.5)
            continue
        if status != 200 or not message:
            continue
        try:
            with consume(ORDERS, message.get("headers", {}), system=QUEUE_SYSTEM, message_id=message.get("id")):
                send_email(message.get("body", {}))
        except SMTPTimeoutError:
            pass  # recorded on the spans; a real worker would retry or dead-letter


SERVICES = {"frontend": frontend, "checkout": checkout, "payment": payment, "inventory": inventory}

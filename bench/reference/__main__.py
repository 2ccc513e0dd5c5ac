"""``python -m bench.reference --listen HOST:PORT --database-url URL --key K --salt S``

The bare minimum a correct receiver of the PBX's webhooks does,
to measure callbridge against: check the signature (constant
time) -> parse the JSON -> normalise the caller's number -> one indexed lookup
-> one transaction (dedup insert, then an upsert of the call's row) -> 200.
No contacts or leads are made, nothing is spooled, no call state is derived.
It shares callbridge's signature and phone code, so neither side is handicapped
by a different implementation of the same step.
"""

from __future__ import annotations

import argparse
import asyncio
import json

import asyncpg
from aiohttp import web

from adapters.mango.signature import verify
from daemon.domain.phones import normalise_phone

INSERT_INBOX = """INSERT INTO ref_inbox (dedup_key, raw) VALUES ($1, $2)
ON CONFLICT (dedup_key) DO NOTHING RETURNING 1"""
UPSERT_CALL = """INSERT INTO ref_calls (entry_id, phone, contact_id, state) VALUES ($1, $2, $3, $4)
ON CONFLICT (entry_id) DO UPDATE SET
    phone = COALESCE(EXCLUDED.phone, ref_calls.phone),
    contact_id = COALESCE(EXCLUDED.contact_id, ref_calls.contact_id),
    state = COALESCE(EXCLUDED.state, ref_calls.state),
    events = ref_calls.events + 1, updated_at = now()"""
LOOKUP = "SELECT contact_id FROM ref_phones WHERE phone = $1"


def dedup_key(path: str, event: dict) -> str:
    """The same keys callbridge uses, so both drop the same repeats."""
    if path == "events/call":
        return f"call:{event.get('call_id')}:{event.get('seq')}:{event.get('call_state')}"
    if path == "events/summary":
        return f"summary:{event.get('entry_id')}"
    return f"{path}:{event.get('recording_id') or event.get('call_id')}:{event.get('seq')}" \
           f":{event.get('recording_state') or event.get('timestamp')}"


class Receiver:
    def __init__(self, pool: asyncpg.Pool, *, key: str, salt: str) -> None:
        self.pool, self.key, self.salt = pool, key, salt

    async def handle(self, request: web.Request) -> web.Response:
        form = await request.post()
        text, sent_key, sent_sign = form.get("json"), form.get("vpbx_api_key"), form.get("sign")
        if not all(isinstance(v, str) for v in (text, sent_key, sent_sign)):
            return web.json_response({"error": "missing form fields"}, status=400)
        if not verify(api_key=self.key, api_salt=self.salt, sent_key=sent_key, json_text=text,
                      sent_sign=sent_sign):
            return web.json_response({"error": "bad signature"}, status=403)
        try:
            event = json.loads(text)
        except ValueError:
            return web.json_response({"error": "bad json"}, status=400)
        if not isinstance(event, dict):
            return web.json_response({"error": "not an object"}, status=400)
        path = request.match_info["path"].strip("/")
        caller = event.get("from") if isinstance(event.get("from"), dict) else {}
        phone = normalise_phone(str(caller.get("number") or ""), "RU")
        async with self.pool.acquire() as conn:
            contact_id = await conn.fetchval(LOOKUP, phone) if phone else None
            async with conn.transaction():
                if await conn.fetchval(INSERT_INBOX, dedup_key(path, event), text) is None:
                    return web.json_response({"result": "duplicate"})
                if event.get("entry_id"):
                    await conn.execute(UPSERT_CALL, event["entry_id"], phone, contact_id,
                                       event.get("call_state"))
        return web.json_response({"result": "stored"})


async def serve(args: argparse.Namespace) -> None:
    pool = await asyncpg.create_pool(args.database_url, min_size=4, max_size=args.pool_size)
    receiver = Receiver(pool, key=args.key, salt=args.salt)
    app = web.Application()
    app.router.add_post("/mango/{path:.*}", receiver.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    host, port = args.listen.rsplit(":", 1)
    # The same listen backlog as callbridge (daemon/runtime/process.py): both are run the same way.
    await web.TCPSite(runner, host, int(port), backlog=1024).start()
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
        await pool.close()


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.reference", description=__doc__)
    p.add_argument("--listen", required=True)
    p.add_argument("--database-url", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--salt", required=True)
    p.add_argument("--pool-size", type=int, default=10, help="callbridge's default pool size")
    args = p.parse_args()
    try:
        asyncio.run(serve(args))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()

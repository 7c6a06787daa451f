#!/usr/bin/env python3
"""A Roomcast client in Python, with python-socketio (5.x) and nothing of Roomcast's own.

It is what a Python app would write to follow rooms reliably (docs/protocol.md,
"Native clients"): track {epoch, offset} per room, drop duplicates, fill gaps
from room:history, rejoin every room with `since` after a reconnect. The first
half is that client (RoomcastClient); the second half (main) drives it through
a scenario and prints one JSON object a line on stdout, which
test/integration/python-client.test.ts checks. It also publishes over the HTTP
API with `requests`, playing the backend.

    /usr/bin/python3 test/interop/python_client.py --url http://127.0.0.1:3000 \
        --token <JWT allowing ROOM and ROOM-b> --api-key <API key> --room py:1 --transport websocket

Tested with Debian's python3-socketio 5.7.2 (python3-engineio 4.3.4,
python3-websocket 1.2.3, python3-requests 2.28).
"""

import argparse
import json
import os
import sys
import threading
import time
import uuid

import requests
import socketio

# A later offset waits this long for the ones before it, then they are read from history.
REORDER_WINDOW_S = 0.25
# Messages of an epoch the room is not known to be in, kept while history says which epoch is current.
HELD_ASIDE_MAX = 256


class RoomcastError(Exception):
    """An error answer of the gateway: { code, message, retryable }."""

    def __init__(self, error):
        super().__init__('%s: %s' % (error.get('code'), error.get('message')))
        self.code = error.get('code')
        self.retryable = error.get('retryable')
        self.error = error


class Room:
    """Where the app is in one room: the last offset delivered, in an epoch."""

    def __init__(self, name):
        self.name = name
        self.epoch = None  # None until a join ack or the `session` event gives the position
        self.offset = 0
        self.pending = {}  # offset -> message that came ahead of an earlier one (or before the position was known)
        self.held_aside = []  # messages of another epoch
        self.reading = False  # a history read is under way
        self.read_until = None  # ... and the offset it reads up to
        self.gap_timer = None


class RoomcastClient:
    """One Socket.IO connection; delivers each room's publications once, in order.

    python-socketio runs every event handler and every ack callback in a thread
    of its own, so arrival order means nothing: everything goes through
    `_accept` under one lock, which orders by offset.
    """

    def __init__(self, url, token, transports, on_message, on_gap, on_event=None, page_limit=100, timeout=10):
        self.url = url
        self.token = token
        self.transports = transports
        self.on_message = on_message  # (message, how) for each offset, once, in order
        self.on_gap = on_gap  # (room, reason, details): a part history no longer has
        self.on_event = on_event or (lambda *args: None)  # diagnostics: joins, history pages, duplicates
        self.page_limit = page_limit
        self.timeout = timeout
        self.rooms = {}
        self.duplicates = 0
        self.refusal = None
        self.user = None
        self._lock = threading.RLock()
        self._delivered = threading.Condition(self._lock)
        self._ready = threading.Event()  # namespace connected (or refused) and every room rejoined
        self._session = threading.Event()  # the `session` event of this connection came

        # reconnection=False: this script reconnects itself, at chosen moments. With the library's
        # reconnection on, the same `connect` handler rejoins every room after each automatic reconnect.
        self.sio = socketio.Client(reconnection=False)
        self.sio.on('connect', self._on_connect)
        self.sio.on('connect_error', self._on_connect_error)
        self.sio.on('session', self._on_session)
        self.sio.on('message', lambda message: self._accept(message, 'live'))
        self.sio.on('protocol:error', lambda error: self.on_event('protocol_error', error))
        self.sio.on('server:draining', self._on_draining)

    # ---- connection ---------------------------------------------------------------------------

    def connect(self):
        """Connects (the token in the handshake's auth) and rejoins every room known, with since."""
        self.refusal = None
        self._ready.clear()
        self._session.clear()
        # wait=False and our own event: python-socketio 5.7 waits `wait_timeout` more seconds after a
        # refused handshake before raising, and its default (1 s) is short for a busy gateway.
        try:
            self.sio.connect(self.url, auth={'token': self.token}, transports=self.transports, wait=False)
        except socketio.exceptions.ConnectionError:
            if self.refusal is not None:  # refused before any session (HTTP 429/503 with the typed error)
                raise RoomcastError(self.refusal) from None
            raise
        if not self._ready.wait(self.timeout):
            self.sio.disconnect()
            raise TimeoutError('not connected within %s s' % self.timeout)
        if self.refusal is not None:
            self.sio.disconnect()
            raise RoomcastError(self.refusal)
        # The gateway sends `session` after every connect; the user's own room is known from it.
        if not self._session.wait(self.timeout):
            raise TimeoutError('no session event within %s s' % self.timeout)

    def disconnect(self):
        polling_url = self.sio.eio.base_url if self.sio.transport() == 'polling' else None
        self.sio.disconnect()
        if polling_url is not None:
            # python-engineio 4.3's disconnect() queues the close, then marks the client as disconnecting; a write
            # loop that was in the middle of a POST sees that state and ends without sending what was queued. The
            # gateway then holds the session until its ping timeout (45 s by default), as it must for a client that
            # went silent. Once the write loop has ended, send the close the library meant to send (a session that
            # is already closed answers 400): it also ends the poll under way instead of leaving it to the next ping.
            self.sio.eio.write_loop_task.join()
            requests.post(polling_url, data='1', headers={'content-type': 'text/plain;charset=UTF-8'}, timeout=10)
        # Until the old connection's Engine.IO loop has ended, a connect() on this client is not safe over
        # long-polling: the poll still under way brings the old session's close packet, and python-engineio
        # 4.3 applies it to the new connection. Over WebSocket this returns at once.
        self.sio.eio.wait()

    def transport(self):
        return self.sio.transport()

    def _on_connect(self):
        # A handler must not block on an ack in the thread that reads the connection: rejoin in a task.
        self.sio.start_background_task(self._rejoin_all)

    def _on_connect_error(self, error):
        if isinstance(error, dict) and isinstance(error.get('data'), dict):
            self.refusal = error['data']  # the namespace refused the handshake: { message, data: { code, ... } }
        elif isinstance(error, dict) and 'code' in error:
            self.refusal = error  # refused before any session (over polling: the HTTP answer's JSON body)
        else:
            self.refusal = {'code': 'UNAVAILABLE', 'message': str(error), 'retryable': True}  # no answer at all
        self._ready.set()

    def _on_draining(self, event):
        # The node is going away: reconnect (behind a load balancer, to another node) after the delay given.
        self.on_event('draining', event)

    def _rejoin_all(self):
        with self._lock:
            rooms = [room for room in self.rooms.values() if room.epoch is not None]
        for room in rooms:
            try:
                self.join(room.name)
            except Exception as error:  # noqa: BLE001 - reported, the other rooms still rejoin
                self.on_event('rejoin_failed', {'room': room.name, 'error': str(error)})
        self._ready.set()

    def _on_session(self, session):
        # Rooms the server joined this connection to (the token's `subscribe`, user:<sub>), with their
        # positions. A room already followed is rejoined with since instead (_rejoin_all).
        self.on_event('session', session)
        with self._lock:
            self.user = session['user']
            for entry in session['rooms']:
                room = self.rooms.setdefault(entry['room'], Room(entry['room']))
                if room.epoch is None:
                    self._start_at(room, entry['epoch'], entry['offset'])
        self._session.set()

    # ---- requests -----------------------------------------------------------------------------

    def _request(self, event, payload):
        """Emits with an ack; the answer is { ok: true, ... } or { ok: false, error }."""
        answer = self.sio.call(event, payload, timeout=self.timeout)
        if not answer.get('ok'):
            raise RoomcastError(answer['error'])
        return answer

    def join(self, name, since=None):
        """Joins a room; a room followed already is rejoined from its position (or from `since`, a saved one)."""
        with self._lock:
            room = self.rooms.setdefault(name, Room(name))
            if since is None and room.epoch is not None:
                since = {'epoch': room.epoch, 'offset': room.offset}
        payload = {'room': name}
        if since is not None:
            payload['since'] = since
        try:
            ack = self._request('room:join', payload)
        except RoomcastError:
            with self._lock:
                if room.epoch is None:
                    del self.rooms[name]
            raise
        self.on_event('joined', {'room': name, 'since': since, 'epoch': ack['epoch'], 'offset': ack['offset'],
                                 'recovered': ack['recovered'], 'missed': [m['offset'] for m in ack['missed']]})
        with self._lock:
            if since is None:
                self._start_at(room, ack['epoch'], ack['offset'])
            else:
                if room.epoch is None:  # a saved position: the room goes on from there
                    room.epoch, room.offset = since['epoch'], since['offset']
                self._take_answer(room, since, ack, ack['missed'], 'missed')
        # `missed` holds at most 300 publications: the rest, up to the ack's offset, from history.
        self._read_history(name, ack['offset'])
        return ack

    def publish(self, room, event, data, idempotency_key=None):
        """room:publish with an idempotency key: after a timeout, call again with the same key."""
        key = idempotency_key or uuid.uuid4().hex
        ack = self._request('room:publish', {'room': room, 'event': event, 'data': data, 'idempotencyKey': key})
        return {'key': key, 'epoch': ack['epoch'], 'offset': ack['offset']}

    def wait_for(self, name, offset, timeout=None):
        """Blocks until the room's publications up to `offset` (of its current epoch) were delivered."""
        deadline = time.monotonic() + (timeout or self.timeout)
        with self._delivered:
            while self.rooms[name].offset < offset:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError('%s: offset %d not reached (at %d)' % (name, offset, self.rooms[name].offset))
                self._delivered.wait(left)

    def position(self, name):
        with self._lock:
            room = self.rooms[name]
            return {'epoch': room.epoch, 'offset': room.offset}

    # ---- ordering, duplicates, gaps ---------------------------------------------------------------

    def _start_at(self, room, epoch, offset):
        """A first join (or `session`): the room is followed from its position now."""
        room.epoch, room.offset = epoch, offset
        self._release(room)

    def _take_answer(self, room, since, answer, messages, how):
        """A join ack with since, or a history page: the server may say the epoch changed or a part is lost."""
        if answer['epoch'] != since['epoch']:
            # The room's history was lost (or replaced): its offsets start again in a new epoch.
            self.on_gap(room.name, 'epoch-changed', {'from': since, 'epoch': answer['epoch']})
            room.epoch = answer['epoch']
            room.offset = messages[0]['offset'] - 1 if messages else answer['offset']
        elif not answer['recovered']:
            # History no longer holds what followed `since`: a gap up to what it still holds.
            resume = messages[0]['offset'] - 1 if messages else answer['offset']
            if resume > room.offset:
                self.on_gap(room.name, 'expired', {'after': room.offset, 'upTo': resume})
                room.offset = resume
        for message in messages:
            self._accept(message, how)
        self._release(room)

    def _release(self, room):
        """Once the position is known: what waited for it goes through _accept; other epochs' messages are late."""
        waiting = list(room.pending.values()) + room.held_aside
        room.pending, room.held_aside = {}, []
        for message, how in sorted(waiting, key=lambda entry: entry[0]['offset']):
            if message['epoch'] == room.epoch:
                self._accept(message, how)

    def _accept(self, message, how):
        with self._lock:
            room = self.rooms.get(message['room'])
            if room is None:
                return  # a room left
            if room.epoch is None:
                room.pending[message['offset']] = (message, how)  # before the join ack or `session`: keep it
                return
            if message['epoch'] != room.epoch:
                # Never switch epoch on a live message: ask history which epoch is current.
                if len(room.held_aside) < HELD_ASIDE_MAX:
                    room.held_aside.append((message, how))
                self.sio.start_background_task(self._read_history_reported, room.name, room.offset + 1)
                return
            if message['offset'] <= room.offset or message['offset'] in room.pending:
                self.duplicates += 1
                self.on_event('duplicate', {'room': room.name, 'offset': message['offset'], 'how': how})
                return
            room.pending[message['offset']] = (message, how)
            while room.offset + 1 in room.pending:
                room.offset += 1
                self.on_message(*room.pending.pop(room.offset))
            self._delivered.notify_all()
            if room.pending and room.gap_timer is None:
                # A later offset came first: give the earlier ones a moment, then read them from history.
                room.gap_timer = threading.Timer(REORDER_WINDOW_S, self._fill_gap, [room.name])
                room.gap_timer.daemon = True
                room.gap_timer.start()

    def _fill_gap(self, name):
        with self._lock:
            room = self.rooms[name]
            room.gap_timer = None
            if not room.pending:
                return
            until = min(room.pending) - 1
        self._read_history_reported(name, until)

    def _read_history_reported(self, name, until):
        """_read_history in a thread of its own: a failure is reported (the next rejoin starts over)."""
        try:
            self._read_history(name, until)
        except Exception as error:  # noqa: BLE001
            self.on_event('history_failed', {'room': name, 'error': str(error)})

    def _read_history(self, name, until):
        """Pages room:history from the room's position until offset `until` is delivered.

        One reader per room: a call while one reads only raises the target.
        """
        with self._lock:
            room = self.rooms[name]
            room.read_until = max(room.read_until or 0, until)
            if room.reading:
                return
            room.reading = True
        try:
            while True:
                with self._lock:
                    if room.offset >= room.read_until and not room.pending:
                        room.reading, room.read_until = False, None
                        return
                    since = {'epoch': room.epoch, 'offset': room.offset}
                page = self._request('room:history', {'room': name, 'since': since, 'limit': self.page_limit})
                messages = page['messages']
                self.on_event('history', {'room': name, 'since': since, 'limit': self.page_limit, 'epoch': page['epoch'],
                                          'offset': page['offset'], 'recovered': page['recovered'],
                                          'first': messages[0]['offset'] if messages else None,
                                          'last': messages[-1]['offset'] if messages else None, 'count': len(messages)})
                with self._lock:
                    if page['epoch'] != since['epoch']:
                        room.read_until = page['offset']  # the target was an offset of the old epoch
                    self._take_answer(room, since, page, messages, 'history')
                    if not messages:
                        room.reading, room.read_until = False, None  # history holds nothing more after us
                        return
        except BaseException:
            with self._lock:
                room.reading, room.read_until = False, None
            raise


# ---- the scenario the test runs -----------------------------------------------------------------

started = time.monotonic()
output_lock = threading.Lock()


def report(event, **fields):
    """One JSON object a line on stdout: what happened, with seconds since the start."""
    with output_lock:
        print(json.dumps({'event': event, 't': round(time.monotonic() - started, 3), **fields}), flush=True)


def http_publish(args, room, event, data, key=None):
    """The backend's side: POST /api/v1/publish with the API key."""
    body = {'room': room, 'event': event, 'data': data}
    if key:
        body['idempotencyKey'] = key
    response = requests.post(args.url + '/api/v1/publish', json=body, timeout=10,
                             headers={'authorization': 'Bearer ' + args.api_key})
    response.raise_for_status()
    return response.json()['results'][0]


def http_publish_batch(args, room, count, label):
    """POST /api/v1/batch: `count` publications into one room, stored in the order given."""
    publications = [{'room': room, 'event': 'bulk', 'data': {'label': label, 'n': n}} for n in range(count)]
    response = requests.post(args.url + '/api/v1/batch', json={'publications': publications}, timeout=30,
                             headers={'authorization': 'Bearer ' + args.api_key})
    response.raise_for_status()
    return [result['offset'] for result in response.json()['results']]


def http_wait_gone(args, room, user, timeout=10):
    """The backend's view: waits until the room's presence no longer lists the user.

    Over long-polling, python-socketio's disconnect() returns before the gateway is told (the
    close goes out with the next POST), and a poll already under way may still bring events:
    what is published next must not reach the client live.
    """
    url = args.url + '/api/v1/rooms/' + requests.utils.quote(room, safe='') + '/presence'
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = requests.get(url, timeout=10, headers={'authorization': 'Bearer ' + args.api_key})
        response.raise_for_status()
        if all(member['userId'] != user for member in response.json()['members']):
            return
        time.sleep(0.02)
    raise TimeoutError('%s still in %s after %s s' % (user, room, timeout))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--url', required=True)
    parser.add_argument('--token', required=True, help='a JWT whose rooms claim allows --room and --room + "-b"')
    parser.add_argument('--api-key', required=True)
    parser.add_argument('--room', required=True)
    parser.add_argument('--forbidden-room', default='secret:1', help='a room the token does not allow')
    parser.add_argument('--transport', choices=['websocket', 'polling'], default='websocket')
    parser.add_argument('--gap', type=int, default=350, help='publications made during the second disconnect')
    parser.add_argument('--page-limit', type=int, default=20)
    parser.add_argument('--timeout', type=float, default=90, help='the whole run; each wait is bounded too')
    args = parser.parse_args()

    # Bounded: whatever hangs, the process ends.
    def give_up():
        report('timeout', seconds=args.timeout)
        os._exit(3)
    watchdog = threading.Timer(args.timeout, give_up)
    watchdog.daemon = True
    watchdog.start()

    room = args.room
    transports = [args.transport]

    # 1. A token the gateway does not accept: the handshake is refused with a typed error.
    stranger = RoomcastClient(args.url, 'not-a-token', transports, lambda m, h: None, lambda *a: None)
    try:
        stranger.connect()
        report('error', message='a bad token was accepted')
        return 1
    except RoomcastError as error:
        report('handshake_refused', error=error.error)

    def make_client(label):
        """A client whose deliveries, gaps and diagnostics are reported with `client`: label."""
        def on_message(message, how):
            report('message', client=label, room=message['room'], epoch=message['epoch'], offset=message['offset'],
                   data=message['data'], how=how, **({'from': message['from']} if 'from' in message else {}))
        return RoomcastClient(args.url, args.token, transports, on_message,
                              lambda name, reason, details: report('gap', client=label, room=name, reason=reason, details=details),
                              on_event=lambda kind, details: report(kind, client=label, details=details),
                              page_limit=args.page_limit, timeout=15)

    client = make_client('main')

    # 2. Connect, join, live publications (HTTP and our own), a retried publish, a refused join.
    client.connect()
    report('connected', client='main', transport=client.transport(), sid=client.sio.get_sid(), user=client.user)
    client.join(room)
    http_offsets = [http_publish(args, room, 'http', {'n': n})['offset'] for n in range(3)]
    report('http_published', room=room, offsets=http_offsets)
    first = client.publish(room, 'say', {'text': 'hello from python'})
    second = client.publish(room, 'say', {'text': 'second'})
    # As if the first ack had been lost: the same key again gets the same offset (and a second broadcast).
    retry = client.publish(room, 'say', {'text': 'hello from python'}, idempotency_key=first['key'])
    report('published', room=room, results=[first, second], retry=retry)
    client.wait_for(room, second['offset'])
    try:
        client.join(args.forbidden_room)
        report('error', message='a forbidden room was joined')
        return 1
    except RoomcastError as error:
        report('join_refused', room=args.forbidden_room, error=error.error)

    # 3. Away: what is published meanwhile comes back in the rejoin's `missed`, in the personal room too.
    client.disconnect()
    http_wait_gone(args, room, client.user)
    report('disconnected', position=client.position(room))
    away = [http_publish(args, room, 'http', {'away': n})['offset'] for n in range(4)]
    user_room = 'user:' + client.user
    personal = http_publish(args, user_room, 'dm', {'text': 'while you were away'})['offset']
    report('http_published', room=room, offsets=away, personal={'room': user_room, 'offset': personal})
    client.connect()
    report('reconnected', transport=client.transport(), position=client.position(room))
    client.wait_for(room, away[-1])
    client.wait_for(user_room, personal)

    # 4. Away longer: more than one join ack carries; the rest is paged from room:history.
    client.disconnect()
    http_wait_gone(args, room, client.user)
    report('disconnected', position=client.position(room))
    bulk = http_publish_batch(args, room, args.gap, 'gap')
    report('http_published', room=room, offsets=[bulk[0], bulk[-1]], count=len(bulk))
    client.connect()
    report('reconnected', transport=client.transport(), position=client.position(room))
    client.wait_for(room, bulk[-1])

    # 5. A position saved by an earlier run, in an epoch the room no longer has: an explicit gap,
    #    then the room from what history holds of its current epoch.
    other = room + '-b'
    other_offsets = [http_publish(args, other, 'http', {'n': n})['offset'] for n in range(3)]
    client.join(other, since={'epoch': 'an-old-epoch', 'offset': 2})
    client.wait_for(other, other_offsets[-1])

    # 6. The app restarts: it saved its position, and a new client resumes from it (same epoch).
    saved = client.position(room)
    client.disconnect()
    http_wait_gone(args, room, client.user)
    report('disconnected', position=saved)
    later = [http_publish(args, room, 'http', {'later': n})['offset'] for n in range(2)]
    report('http_published', room=room, offsets=later)
    resumed = make_client('resumed')
    resumed.connect()
    report('connected', client='resumed', transport=resumed.transport(), sid=resumed.sio.get_sid(), user=resumed.user)
    resumed.join(room, since=saved)
    resumed.wait_for(room, later[-1])

    report('done', transport=resumed.transport(), positions={name: client.position(name) for name in client.rooms},
           resumed=resumed.position(room), duplicates=client.duplicates)
    resumed.disconnect()
    return 0


if __name__ == '__main__':
    sys.exit(main())

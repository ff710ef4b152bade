"""Citizens submitting at once, through the JSON API and through the web form, the way real
clients behave when something breaks: a request that gets no answer or a 503 is sent again
— with the same Idempotency-Key, or from the same browser session — until it succeeds."""

import re
import threading
import time
import uuid
from dataclasses import dataclass
from itertools import count, cycle

import requests

SERVICE = "synpunkter"
REQUEST_DEADLINE = 60  # seconds one request may keep being retried before the client gives up
# A patient client waits as long as Retry-After says; these wait less, to keep the run
# short. The server must cope either way.
LONGEST_PAUSE = 0.25
STATUS_LINK = re.compile(r"/arende/([A-Za-z0-9_-]+)/kvitto$")
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Attempt:
    """One HTTP request and what came back: a status, or no answer at all."""

    kind: str
    method: str
    path: str
    status: int | None
    error: str | None = None
    content_type: str = ""
    retry_after: str | None = None
    body: str = ""


@dataclass
class Submission:
    """A citizen's submission that got its 2xx in the end."""

    kind: str  # "api" or "web"
    member: str
    email: str
    reference: str
    key: str | None = None  # the API's Idempotency-Key
    status_token: str | None = None


class ClientGaveUp(Exception):
    pass


class Load:
    """Threads submitting to several members until stopped; every attempt is recorded."""

    def __init__(self, base_url: str, members: list[str], api_clients: int, web_clients: int):
        self.base_url = base_url
        self.members = members
        self.stop_event = threading.Event()
        self.lock = threading.Condition()
        self.attempts: list[Attempt] = []
        self.completed: list[Submission] = []
        self.errors: list[str] = []
        # Submissions a client gave up on: each may or may not have become a case. The
        # API's are known by their key (at most one case each); the web's only by count.
        self.abandoned: list[tuple[str, str | None]] = []
        self.serial = count()
        self.threads = [
            threading.Thread(target=self._run, args=(self._api_submission, i), daemon=True)
            for i in range(api_clients)
        ] + [
            threading.Thread(target=self._run, args=(self._web_submission, i), daemon=True)
            for i in range(web_clients)
        ]

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self) -> None:
        """Each client finishes the submission it is on, then stops."""
        self.stop_event.set()
        for thread in self.threads:
            thread.join(timeout=REQUEST_DEADLINE * 2)
        alive = [thread.name for thread in self.threads if thread.is_alive()]
        assert not alive, f"clients still running after the stop: {alive}"

    def wait_for_more(self, more: int, deadline_seconds: float = 90) -> None:
        """Until `more` submissions beyond the present ones have got their 2xx."""
        with self.lock:
            target = len(self.completed) + more
            ok = self.lock.wait_for(
                lambda: len(self.completed) >= target or self.errors, deadline_seconds
            )
        assert not self.errors, self.errors
        assert ok, f"only {len(self.completed)} of {target} submissions completed in time"

    def where(self, status: int | None = None, error: bool = False) -> list[Attempt]:
        with self.lock:
            return [
                a
                for a in self.attempts
                if (error and a.error) or (not error and a.status == status and not a.error)
            ]

    # -- the clients ---------------------------------------------------------------------

    def _run(self, submission, index: int) -> None:
        session = requests.Session()
        members = cycle(self.members[index % len(self.members) :] + self.members)
        kind = "api" if submission == self._api_submission else "web"
        try:
            while not self.stop_event.is_set():
                key = str(uuid.uuid4())
                try:
                    done = submission(session, next(members), key)
                except Exception:
                    with self.lock:
                        self.abandoned.append((kind, key if kind == "api" else None))
                    raise
                with self.lock:
                    self.completed.append(done)
                    self.lock.notify_all()
        except Exception as exc:  # the test reports it; the other clients go on
            with self.lock:
                self.errors.append(f"{type(exc).__name__}: {exc}")
                self.lock.notify_all()
        finally:
            session.close()

    def _request(self, session, kind, method, path, expect, **kwargs) -> requests.Response:
        """Send until the answer is one of `expect`; a 503 or no answer means try again."""
        deadline = time.monotonic() + REQUEST_DEADLINE
        while True:
            try:
                response = session.request(
                    method,
                    self.base_url + path,
                    timeout=(5, 30),
                    allow_redirects=False,
                    **kwargs,
                )
            except requests.RequestException as exc:  # reset, refused, timed out
                self._record(Attempt(kind, method, path, None, error=type(exc).__name__))
                pause = 0.1
            else:
                self._record(
                    Attempt(
                        kind,
                        method,
                        path,
                        response.status_code,
                        content_type=response.headers.get("Content-Type", ""),
                        retry_after=response.headers.get("Retry-After"),
                        body=response.text if response.status_code >= 400 else "",
                    )
                )
                if response.status_code in expect:
                    return response
                if response.status_code != 503:
                    raise ClientGaveUp(
                        f"{method} {path}: {response.status_code} {response.text[:500]}"
                    )
                pause = min(float(response.headers.get("Retry-After") or 1), LONGEST_PAUSE)
            if time.monotonic() > deadline:
                raise ClientGaveUp(f"{method} {path}: no success in {REQUEST_DEADLINE} s")
            time.sleep(pause)

    def _record(self, attempt: Attempt) -> None:
        with self.lock:
            self.attempts.append(attempt)

    def _email(self) -> str:
        return f"medborgare-{next(self.serial)}@example.org"

    def _api_submission(self, session, member: str, key: str) -> Submission:
        address = self._email()
        answers = {
            "kind": "fraga",
            "area": "annat",
            "message": f"Fråga {key} om kommunens verksamhet.",
            "want_reply": "yes",
            "name": "Test Testsson",
            "email": address,
        }
        path = f"/api/v1/tenants/{member}/services/{SERVICE}/submissions"
        response = self._request(
            session, "api", "POST", path, {201}, json=answers, headers={"Idempotency-Key": key}
        )
        reference = response.json()["reference"]
        return Submission("api", member, address, reference, key=key)

    def _web_submission(self, session, member: str, key: str) -> Submission:
        """`key` is unused: the browser's draft is what makes a repeat safe here."""
        base = f"/{member}/e/{SERVICE}"
        address = self._email()
        page = self._request(session, "web", "GET", f"{base}/steg/synpunkt", {200})
        token = CSRF.search(page.text).group(1)
        self._request(
            session,
            "web",
            "POST",
            f"{base}/steg/synpunkt",
            {303},
            data={
                "csrf_token": token,
                "kind": "synpunkt",
                "area": "gata_park",
                "message": "Gatlyktan på Storgatan är trasig.",
            },
        )
        self._request(
            session,
            "web",
            "POST",
            f"{base}/steg/svar",
            {303},
            data={"csrf_token": token, "want_reply": "yes", "name": "Webb", "email": address},
        )
        self._request(session, "web", "GET", f"{base}/kontrollera", {200})
        sent = self._request(session, "web", "POST", base, {303}, data={"csrf_token": token})
        link = STATUS_LINK.search(sent.headers["Location"])
        if link is None:
            raise ClientGaveUp(f"the submission led to {sent.headers['Location']}, not a receipt")
        receipt = self._request(
            session, "web", "GET", f"/{member}/arende/{link.group(1)}/kvitto", {200}
        )
        reference = re.search(r"[A-ZÅÄÖ]{2,4}-\d{4}-\d{6}", receipt.text).group(0)
        return Submission("web", member, address, reference, status_token=link.group(1))

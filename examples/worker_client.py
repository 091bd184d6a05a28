#!/usr/bin/env python3
"""A render tracker client for comfy-queue, Python 3 standard library only.

A worker script that renders with its own ComfyUI claims the next item, renders
it with the item's seed and prompt, then reports it complete (with the image, or
the URL it uploaded it to). The studio marks downloaded items done, flags bad
ones for a re-render and resets items.

    from worker_client import RenderQueueClient

    client = RenderQueueClient("http://127.0.0.1:8189", worker="gpu-7")
    job = client.get_next_job()          # None when nothing is pending
    if job:
        # job["index"], job["seed"], job["traits"], job["prompt"] (the graph to run)
        client.mark_complete(job["job_id"], file_path="out.png")

From a shell (each command prints JSON):

    worker_client.py URL next [--worker NAME]
    worker_client.py URL status ID STATUS [--file PATH] [--url URL] [--worker NAME]
    worker_client.py URL flag ID [--rerender]
    worker_client.py URL reset ID
    worker_client.py URL jobs [--status S]... [--batch B] [--cursor C]
    worker_client.py URL stats
    worker_client.py URL preview ID

ID is a job id or BATCH:INDEX. With a token, set COMFY_QUEUE_TOKEN.
"""

import base64
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request


class TrackerError(Exception):
    """The tracker refused a request: `status` is the HTTP status, `code` its error code."""

    def __init__(self, status, code, message):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code


class RenderQueueClient:
    def __init__(self, tracker_url, worker=None, token=None, timeout=30):
        self.base = tracker_url.rstrip("/")
        self.worker = worker
        self.token = token if token is not None else os.environ.get("COMFY_QUEUE_TOKEN")
        self.timeout = timeout

    def _request(self, method, path, body=None, query=None):
        url = self.base + path
        if query:
            url += "?" + urllib.parse.urlencode(query, doseq=True)
        data = None
        headers = {}
        if body is not None:
            data = json.dumps(body).encode()
            headers["content-type"] = "application/json"
        if self.token:
            headers["authorization"] = "Bearer " + self.token
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as res:
                text = res.read()
                return res.status, (json.loads(text) if text else None)
        except urllib.error.HTTPError as err:
            text = err.read()
            try:
                error = json.loads(text).get("error", {})
            except ValueError:
                error = {}
            raise TrackerError(err.code, error.get("code", "HTTP_ERROR"), error.get("message", text.decode(errors="replace")))

    def get_next_job(self):
        """Claims the next pending item (with a lease); None when nothing is pending."""
        query = {"worker": self.worker} if self.worker else None
        status, body = self._request("GET", "/next-job", query=query)
        return None if status == 204 else body

    def update_status(self, job_id, status, file_path=None, output_url=None, message=None):
        body = {"status": status}
        if self.worker and status in ("working", "complete", "error"):
            body["worker"] = self.worker
        if file_path:
            with open(file_path, "rb") as f:
                body["file"] = {"name": os.path.basename(file_path), "data": base64.b64encode(f.read()).decode()}
        if output_url:
            body["output_url"] = output_url
        if message:
            body["message"] = message
        return self._request("POST", f"/job/{urllib.parse.quote(str(job_id), safe=':')}/status", body)[1]

    def mark_working(self, job_id):
        """Still rendering: renews the claim's lease."""
        return self.update_status(job_id, "working")

    def mark_complete(self, job_id, file_path=None, output_url=None):
        return self.update_status(job_id, "complete", file_path=file_path, output_url=output_url)

    def mark_error(self, job_id, message=None):
        return self.update_status(job_id, "error", message=message)

    def mark_done(self, job_id):
        """The studio has the item's output."""
        return self.update_status(job_id, "done")

    def flag(self, job_id, rerender=False):
        body = {"rerender": True} if rerender else {}
        return self._request("POST", f"/job/{urllib.parse.quote(str(job_id), safe=':')}/flag", body)[1]

    def reset(self, job_id):
        return self._request("POST", f"/job/{urllib.parse.quote(str(job_id), safe=':')}/reset", {})[1]

    def get_jobs(self, statuses=None, batch=None, cursor=None, limit=None, text=None, index_from=None, index_to=None):
        query = []
        for s in statuses or []:
            query.append(("status", s))
        for key, value in (("batch", batch), ("cursor", cursor), ("limit", limit), ("q", text), ("from", index_from), ("to", index_to)):
            if value is not None:
                query.append((key, value))
        return self._request("GET", "/api/pqueue/tracker/jobs", query=query)[1]

    def get_stats(self):
        return self._request("GET", "/stats")[1]

    def preview(self, job_id):
        return self._request("GET", f"/preview/{urllib.parse.quote(str(job_id), safe=':')}")[1]


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    url, command, rest = argv[1], argv[2], argv[3:]

    def option(name, default=None, many=False):
        found = [rest[i + 1] for i, a in enumerate(rest[:-1]) if a == name]
        return found if many else (found[-1] if found else default)

    positional = []
    skip = False
    for i, a in enumerate(rest):
        if skip:
            skip = False
        elif a in ("--worker", "--file", "--url", "--status", "--batch", "--cursor"):
            skip = True
        elif not a.startswith("--"):
            positional.append(a)

    client = RenderQueueClient(url, worker=option("--worker"))
    try:
        if command == "next":
            out = client.get_next_job()
        elif command == "status":
            out = client.update_status(positional[0], positional[1], file_path=option("--file"), output_url=option("--url"))
        elif command == "flag":
            out = client.flag(positional[0], rerender="--rerender" in rest)
        elif command == "reset":
            out = client.reset(positional[0])
        elif command == "jobs":
            out = client.get_jobs(statuses=option("--status", many=True), batch=option("--batch"), cursor=option("--cursor"))
        elif command == "stats":
            out = client.get_stats()
        elif command == "preview":
            out = client.preview(positional[0])
        else:
            print(f"unknown command {command}", file=sys.stderr)
            return 2
    except TrackerError as err:
        print(json.dumps({"error": {"status": err.status, "code": err.code, "message": str(err)}}))
        return 1
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

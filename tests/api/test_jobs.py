"""GET jobs (one job, or the executing ones) and GET jobs/cancel."""

from __future__ import annotations

import pytest

from tests.api.conftest import Api

JOBID_MISSING = {"error": "Query param jobid not provided", "code": 400}


@pytest.mark.parametrize("path", ["/v1/pixverse/jobs/?jobid={}", "/v1/pixverse/jobs?jobid={}"])
async def test_get_job_with_and_without_slash(api: Api, path: str) -> None:
    _, created = await api.create(replyRef="ref-7")
    status, job = await api.request("GET", path.format(created["jobid"]))
    assert status == 200
    assert job == created


@pytest.mark.parametrize(
    "path", ["/v1/pixverse/jobs/?jobid=", "/v1/pixverse/jobs?jobid=%20", "/v1/pixverse/jobs/cancel/"]
)
async def test_jobid_not_provided(api: Api, path: str) -> None:
    assert await api.request("GET", path) == (400, JOBID_MISSING)


@pytest.mark.parametrize("path", ["/v1/pixverse/jobs/?jobid=nope", "/v1/pixverse/jobs/cancel?jobid=nope"])
async def test_unknown_job(api: Api, path: str) -> None:
    assert await api.request("GET", path) == (404, {"error": "Unable to locate job nope", "code": 404})


async def test_executing_jobs_listing(api: Api) -> None:
    assert await api.request("GET", "/v1/pixverse/jobs") == (200, [])
    first = (await api.create())[1]
    second = (await api.create(prompt="a dog"))[1]
    status, listed = await api.request("GET", "/v1/pixverse/jobs/")
    assert status == 200
    assert [j["jobid"] for j in listed] == [first["jobid"], second["jobid"]]
    assert all(j["status"] == "started" and j["code"] == 200 for j in listed)
    await api.request("GET", f"/v1/pixverse/jobs/cancel/?jobid={first['jobid']}")
    _, listed = await api.request("GET", "/v1/pixverse/jobs")
    assert [j["jobid"] for j in listed] == [second["jobid"]]


async def test_cancel(api: Api) -> None:
    jobid = (await api.create())[1]["jobid"]
    status, body = await api.request("GET", f"/v1/pixverse/jobs/cancel/?jobid={jobid}")
    assert (status, body) == (200, {"jobid": jobid, "status": "cancelled", "code": 200})
    _, job = await api.request("GET", f"/v1/pixverse/jobs/?jobid={jobid}")
    assert job["status"] == "cancelled"
    status, body = await api.request("GET", f"/v1/pixverse/jobs/cancel?jobid={jobid}")
    assert (status, body["error"]) == (400, f"Job {jobid} is cancelled and cannot be cancelled")


async def test_moderated_job_reads_back_as_422(api: Api) -> None:
    api.driver.mode = "moderated"
    jobid = (await api.create())[1]["jobid"]
    status, job = await api.request("GET", f"/v1/pixverse/jobs/?jobid={jobid}")
    assert (status, job["status"]) == (422, "moderated")

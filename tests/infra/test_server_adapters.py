"""infra/local/server_adapters.py: moto's server finds a request's service without listing its own
package folder again, and knows the same modules moto's own listing gives."""

import os

import moto
import requests
from moto import backends

from infra.local import server_adapters


def test_the_modules_listed_once_are_the_ones_moto_lists():
    server_adapters.install()
    original = backends.list_of_moto_modules.__wrapped__
    assert backends.list_of_moto_modules() == frozenset(original())
    assert {"s3", "dynamodb", "sqs"} <= backends.list_of_moto_modules()


def test_a_request_to_the_local_stack_does_not_list_motos_folder(local_stack, monkeypatch):
    moto_folder = os.path.dirname(moto.__file__)
    listings = []
    listdir = os.listdir

    def counted(path="."):
        if os.fspath(path) == moto_folder:
            listings.append(path)
        return listdir(path)

    monkeypatch.setattr(os, "listdir", counted)
    # Over HTTP (this process's botocore calls skip the server: infra/local/in_process.py)
    for _ in range(5):
        answer = requests.get(local_stack.endpoint_url, timeout=30)  # unsigned: moto's default service, S3
        assert answer.status_code == 200 and b"ListAllMyBucketsResult" in answer.content
    assert listings == []  # moto's own code lists the folder once per request

"""The emulator's control plane through an unmodified `boto3.client("bedrock")`, models
users add, and discovery (`%claude models --refresh`) using what the account offers."""

from __future__ import annotations

import json
from urllib.request import Request, urlopen

import boto3
import pytest
from botocore.exceptions import ClientError
from magic_helpers import Shell

from claude_magic.bedrock.discovery import offer_from
from claude_magic.emulator import Emulator
from claude_magic.emulator.control.catalogue import models_from_file
from claude_magic.models import catalog

NEW_SONNET = {
    "id": "anthropic.claude-sonnet-6",
    "name": "Claude Sonnet 6",
    "launched": "2026-11-24",
    "profiles": ["us", "eu", "global"],
}


def control(url, region="us-east-1"):
    return boto3.client(
        "bedrock",
        region_name=region,
        endpoint_url=url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def test_list_and_get_foundation_models(emulator):
    client = control(emulator.url)
    summaries = client.list_foundation_models(byProvider="Anthropic")["modelSummaries"]
    listed = {s["modelId"]: s for s in summaries}
    today = catalog.current_date()
    served = {m.id for m in catalog.MODELS if m.status(today) != "retired"}
    assert set(listed) == served and "anthropic.claude-3-haiku-20240307-v1:0" not in listed
    opus_41 = listed["anthropic.claude-opus-4-1-20250805-v1:0"]
    assert opus_41["modelLifecycle"]["status"] == "LEGACY"
    assert opus_41["modelLifecycle"]["endOfLifeTime"].date().isoformat() == "2027-01-08"
    haiku = listed["anthropic.claude-haiku-5-5"]
    assert (
        haiku["modelArn"]
        == "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-haiku-5-5"
    )
    assert haiku["providerName"] == "Anthropic" and haiku["inferenceTypesSupported"] == [
        "INFERENCE_PROFILE"
    ]
    assert client.list_foundation_models(byProvider="Meta")["modelSummaries"] == []
    details = client.get_foundation_model(modelIdentifier="anthropic.claude-opus-4-7")[
        "modelDetails"
    ]
    assert (
        details["modelId"] == "anthropic.claude-opus-4-7"
        and details["modelLifecycle"]["status"] == "ACTIVE"
    )
    with pytest.raises(ClientError) as caught:
        client.get_foundation_model(modelIdentifier="anthropic.claude-3-haiku-20240307-v1:0")
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert "end of its life" in caught.value.response["Error"]["Message"]
    operations = [(r["operation"], r["status"]) for r in emulator.requests()]
    assert operations == [
        ("ListFoundationModels", 200),
        ("ListFoundationModels", 200),
        ("GetFoundationModel", 200),
        ("GetFoundationModel", 404),
    ]


def test_list_inference_profiles_pages_through_every_profile(emulator):
    client = control(emulator.url)
    pages = client.get_paginator("list_inference_profiles").paginate(
        typeEquals="SYSTEM_DEFINED", PaginationConfig={"PageSize": 7}
    )
    profiles = [p for page in pages for p in page["inferenceProfileSummaries"]]
    ids = {p["inferenceProfileId"] for p in profiles}
    today = catalog.current_date()
    expected = {p for m in catalog.MODELS if m.status(today) != "retired" for p in m.profile_ids}
    assert ids == expected and len(profiles) == len(ids)
    assert {
        "jp.anthropic.claude-opus-4-7",
        "au.anthropic.claude-opus-5",
        "global.anthropic.claude-fable-5-1",
        "apac.anthropic.claude-opus-4-6-v1",
    } <= ids
    jp = next(p for p in profiles if p["inferenceProfileId"] == "jp.anthropic.claude-opus-4-7")
    assert jp["status"] == "ACTIVE" and jp["type"] == "SYSTEM_DEFINED"
    assert jp["models"] == [
        {"modelArn": "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-opus-4-7"}
    ]
    assert (
        client.list_inference_profiles(typeEquals="APPLICATION")["inferenceProfileSummaries"] == []
    )


def test_models_added_are_listed_and_callable(tmp_path):
    path = tmp_path / "models.json"
    path.write_text(json.dumps([{"id": "anthropic.claude-haiku-6", "profiles": ["global"]}]))
    with Emulator(models=[NEW_SONNET, *models_from_file(str(path))]) as emu:
        request = Request(
            emu.url + "/_emulator/models",
            method="POST",
            data=json.dumps(
                {"id": "anthropic.claude-opus-6", "max_output_tokens": 256_000}
            ).encode(),
            headers={"Content-Type": "application/json"},
        )
        assert json.loads(urlopen(request).read()) == {"added": ["anthropic.claude-opus-6"]}
        client = control(emu.url)
        listed = {s["modelId"] for s in client.list_foundation_models()["modelSummaries"]}
        assert {
            "anthropic.claude-sonnet-6",
            "anthropic.claude-haiku-6",
            "anthropic.claude-opus-6",
        } <= listed
        profiles = {
            p["inferenceProfileId"]
            for p in client.list_inference_profiles()["inferenceProfileSummaries"]
        }
        assert {"eu.anthropic.claude-sonnet-6", "global.anthropic.claude-haiku-6"} <= profiles
        runtime = boto3.client(
            "bedrock-runtime",
            region_name="us-east-1",
            endpoint_url=emu.url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        body = {
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": 200_000,
            "messages": [{"role": "user", "content": "Hi"}],
        }
        reply = json.loads(
            runtime.invoke_model(modelId="us.anthropic.claude-opus-6", body=json.dumps(body))[
                "body"
            ].read()
        )
        assert reply["model"] == "claude-opus-6"
        with pytest.raises(ClientError) as caught:  # the rules of its family's newest model
            runtime.invoke_model(
                modelId="global.anthropic.claude-haiku-6",
                body=json.dumps(dict(body, max_tokens=100, temperature=0.5)),
            )
        assert (
            "`temperature` is deprecated for this model"
            in caught.value.response["Error"]["Message"]
        )
        bad = Request(
            emu.url + "/_emulator/models",
            method="POST",
            data=b'{"id": "gpt-9"}',
            headers={"Content-Type": "application/json"},
        )
        with pytest.raises(Exception) as refused:
            urlopen(bad)
        assert refused.value.code == 400


def test_offer_marks_what_the_account_has():
    offer = offer_from(
        "eu-west-1",
        [
            {
                "modelId": "anthropic.claude-sonnet-4-5-20250929-v1:0",
                "modelLifecycle": {"status": "ACTIVE"},
            },
        ],
        [
            {"inferenceProfileId": "eu.anthropic.claude-opus-4-7", "status": "ACTIVE"},
            {"inferenceProfileId": "eu.anthropic.claude-sonnet-7", "status": "ACTIVE"},
        ],
    )
    assert offer.available(catalog.lookup("anthropic.claude-opus-4-7"))
    assert offer.available(catalog.lookup("anthropic.claude-sonnet-4-5-20250929-v1:0"))
    assert not offer.available(catalog.lookup("anthropic.claude-fable-5"))
    [unknown] = offer.unknown_models()
    assert (unknown.id, unknown.profiles, unknown.known) == (
        "anthropic.claude-sonnet-7",
        ("eu",),
        False,
    )
    assert unknown.family == "sonnet" and not unknown.sampling  # the newest Sonnet's rules


def test_refresh_finds_a_new_model_and_a_cell_uses_it(magic_env):
    magic_env.add_model(NEW_SONNET)
    shell = Shell()
    try:
        listing = shell.run("%claude models --refresh")
        assert listing.success, listing.stdout + listing.stderr
        row = next(line for line in listing.stdout.splitlines() if " sonnet-6 " in line)
        assert row.rstrip().endswith("not in catalogue")
        assert "Bedrock offers this account in us-east-1: all of these." in listing.stdout
        run = shell.ask("-m anthropic.claude-sonnet-6", "Hello, new model")
        assert run.success, run.stdout + run.stderr
        request = magic_env.requests()[-1]
        assert request["model_id"] == "us.anthropic.claude-sonnet-6" and request["status"] == 200
        operations = [r["operation"] for r in magic_env.requests()]
        assert operations == [
            "ListFoundationModels",
            "ListInferenceProfiles",
            "InvokeModelWithResponseStream",
        ]
    finally:
        shell.close()

"""What one message costs on AWS, measured on hubbub's own code paths (docs/deploy.md).

``python -m tools.capacity`` starts moto (DynamoDB) on 127.0.0.1, builds the ``Chat`` service the
Lambda handlers build, with the DynamoDB store on a metered client and the AWS push adapter on a
counting ``@connections`` client, and runs each path once per event, for rooms of 10, 100 and
1,000 subscribers:

- ``meter``: DynamoDB request units from each request and response (``billing`` has the rules);
- ``connections``: ``@connections`` posts and the WebSocket messages they are billed as;
- ``scenarios``: hubbub's paths, and the AWS samples' design (Scan + post to every connection);
- ``pricing``: the prices, their sources, and the assumptions that cannot be measured offline;
- ``permissions`` (``--permissions``): the IAM actions each function's paths use, against the
  template's grants.

Nothing reaches the internet: moto runs on 127.0.0.1 and the ``@connections`` client is a fake.
"""

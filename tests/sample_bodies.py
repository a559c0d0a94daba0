"""Payloads the sender tests hand over: one per platform, valid for its event (a DoSelect test-session end, a
Codewars code_challenge created, a viasto project_changed), and the fixed clock they are stamped with."""

from datetime import UTC, datetime

NOW = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
DOSELECT = {"meta": {"sender": "test-session", "action": "end", "timestamp": "2017-10-07T10:41:31.846531+00:00",
                     "delivery_id": "441cd01e-d82d-485c-95d8-c8c498417649"},
            "object": {"report_uri": "https://api.doselect.com/r", "test_uri": "https://api.doselect.com/t",
                       "email": "a@b.example", "test_slug": "k016y"}}
CODEWARS = {"action": "created", "code_challenge": {"id": "50654ddff44f800200000001", "created_by_id": "5"}}
VIASTO = {"endpoint": "https://abc.com/project", "time": "2015-03-16T15:32:34.174752+00:00",
          "event": "project_changed", "data": {"project": "https://interview-suite.com/api/v3/p/17/"}}

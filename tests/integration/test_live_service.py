def test_health_through_gunicorn_reports_the_real_engine_version(service, engine):
    r = service.get("/v1/health")
    assert r.status_code == 200
    assert r.json()["engine"] == engine.system.version().version

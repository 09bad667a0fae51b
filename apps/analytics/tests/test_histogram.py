from apps.analytics import histogram


def test_buckets_are_inclusive_upper_bounds_with_an_open_last_one():
    assert histogram.bucket(0.2) == 0
    assert histogram.bucket(1) == 0
    assert histogram.bucket(1.01) == 1
    assert histogram.bucket(100) == histogram.BOUNDS_MS.index(100)
    assert histogram.bucket(60_000) == histogram.BUCKETS - 1
    assert len(histogram.COLUMNS) == histogram.BUCKETS


def test_percentiles_interpolate_inside_the_bucket_they_fall_in():
    counts = [0] * histogram.BUCKETS
    counts[histogram.bucket(4)] = 90  # (3, 5]
    counts[histogram.bucket(90)] = 10  # (75, 100]
    assert 3 < histogram.percentile(counts, 0.5) <= 5
    assert histogram.percentile(counts, 0.9) == 5
    assert 75 < histogram.percentile(counts, 0.95) <= 100
    assert histogram.percentile(counts, 0.99) <= 100


def test_percentiles_of_summed_histograms_are_those_of_all_requests():
    a, b = [0] * histogram.BUCKETS, [0] * histogram.BUCKETS
    a[0], b[histogram.BUCKETS - 1] = 50, 50
    summed = [x + y for x, y in zip(a, b, strict=True)]
    assert histogram.percentile(summed, 0.25) <= 1
    assert histogram.percentile(summed, 0.75) > 5000
    assert histogram.percentile([0] * histogram.BUCKETS, 0.5) is None

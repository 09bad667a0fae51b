import h3

from apps.common import geo


def test_locate_paris():
    place = geo.locate(latitude=48.8566, longitude=2.3522)

    assert (place.city, place.country_code) == ("Paris", "FR")
    assert h3.get_resolution(place.grid_cell) == geo.GRID_RESOLUTION


def test_locate_rounds_to_six_decimals():
    place = geo.locate(latitude=48.85661234567, longitude=2.35221234567)

    assert (place.latitude, place.longitude) == (48.856612, 2.352212)


def test_grid_cell_is_the_h3_cell_at_resolution_five():
    assert geo.grid_cell(latitude=48.8566, longitude=2.3522) == h3.latlng_to_cell(48.8566, 2.3522, 5)


def test_nearby_cells_are_the_cell_and_its_six_neighbours():
    cell = geo.grid_cell(latitude=48.8566, longitude=2.3522)

    cells = geo.nearby_cells(cell=cell)

    assert len(cells) == 7
    assert cell in cells
    assert len(geo.nearby_cells(cell=cell, rings=2)) == 19

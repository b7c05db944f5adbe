"""The device fleet: catalogue, stock, fitting, health, leasing and stock forecasts (issue 9)."""

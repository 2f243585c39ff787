-- Backtest and optimisation results live in jobs.result (one queue for every kind of job);
-- the separate backtests table of 0001 was never used.
DROP TABLE backtests;

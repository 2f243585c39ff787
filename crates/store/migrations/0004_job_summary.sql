-- A few headline numbers of a finished job (return, Sharpe, best objective...), so lists
-- can show them without reading the whole result document.
ALTER TABLE jobs ADD COLUMN summary TEXT;

-- Usernames stay lower case: their original case is not kept.
SELECT 1;

-- Reserved: migration 0004 is being written on another branch (issue 13). This empty step keeps
-- the numbers without a gap until that one is merged; revert the commit that added this file then.
SELECT 1;

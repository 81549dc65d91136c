-- The views an analyst reaches for first. They deduplicate (FINAL), so re-delivered rows
-- never count twice, and compute decay at query time, so "now" is the moment of the query.

-- Units and salience per scope per day (of event time).
CREATE VIEW IF NOT EXISTS units_per_day AS
SELECT scope, toDate(event_time) AS day, count() AS units,
       sum(salience) AS salience_sum, avg(salience) AS salience_avg
FROM memory_units FINAL
GROUP BY scope, day;

-- Most mentioned entities of a scope in [since, until):
-- SELECT * FROM top_entities(scope = 'team-a', since = '2026-05-01', until = '2026-06-01')
CREATE VIEW IF NOT EXISTS top_entities AS
SELECT entity, count() AS mentions, uniqExact(id) AS units, max(event_time) AS last_seen
FROM memory_units FINAL
ARRAY JOIN entity_texts AS entity
WHERE scope = {scope:String}
  AND event_time >= {since:DateTime64(3, 'UTC')} AND event_time < {until:DateTime64(3, 'UTC')}
GROUP BY entity
ORDER BY mentions DESC, entity
LIMIT 50;

-- Each unit's strength now: max(floor, 2^(-(now - last access) / half-life)), the formula
-- the engine uses (lumina.core.decay.decay_strength), with its reinforcement history.
CREATE VIEW IF NOT EXISTS unit_strength AS
SELECT scope, id, text, event_time, last_access, access_count, half_life_s,
       greatest(decay_floor,
                exp2(-greatest(dateDiff('millisecond', last_access, now64(3)), 0)
                     / 1000 / half_life_s)) AS strength_now
FROM memory_units FINAL;

-- Entity activation decayed to now: A · 2^(-(now - latest mention) / T½).
CREATE VIEW IF NOT EXISTS active_entities AS
SELECT scope, entity, mentions, event_time AS last_mention,
       activation * exp2(-greatest(dateDiff('millisecond', event_time, now64(3)), 0)
                         / 1000 / half_life_s) AS activation_now
FROM entity_activations FINAL;

-- Validity intervals of role values: valid_to is when the next value took over (NULL: still true).
CREATE VIEW IF NOT EXISTS role_intervals AS
SELECT scope, who, role, value, valid_from,
       nullIf(leadInFrame(valid_from) OVER w, toDateTime64(0, 3, 'UTC')) AS valid_to,
       unit_id
FROM role_timelines FINAL
WINDOW w AS (PARTITION BY scope, who, role ORDER BY valid_from
             ROWS BETWEEN CURRENT ROW AND 1 FOLLOWING);

-- Dead letters per reason per hour.
CREATE VIEW IF NOT EXISTS dead_letters_per_hour AS
SELECT toStartOfHour(time) AS hour, reason, count() AS letters
FROM dead_letters FINAL
GROUP BY hour, reason;

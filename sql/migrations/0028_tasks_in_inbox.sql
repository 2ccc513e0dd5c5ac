-- Reminders join the inbox (issue 23 item 6 with issue 20 item 1): every open task
-- is an inbox item of kind 'task', in the same queue and on the same screen as the
-- calls and inquiries to answer. Its due time is the task's own (not the [sla]
-- clock's), it goes to the task's manager, and it is never escalated: a reminder
-- is not a customer waiting. Closing either closes the other: a task marked done
-- (POST /api/tasks/{id}/done) closes its item, and an item closed by hand
-- (POST /api/inbox/{id}/done) marks its task done.
ALTER TABLE inbox_items ADD CONSTRAINT inbox_items_task_fk
    FOREIGN KEY (task_id) REFERENCES tasks (id) ON DELETE CASCADE;

CREATE FUNCTION inbox_tasks_after_insert_v1() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO inbox_items (kind, task_id, contact_id, phone, channel, source, received_at, due_at,
                             assigned_extension, assign_reason, assigned_at)
    SELECT 'task', t.id, t.contact_id,
           (SELECT i.value FROM contact_identifiers i
            WHERE i.contact_id = t.contact_id AND i.kind = 'phone' ORDER BY i.created_at, i.value LIMIT 1),
           'task', t.kind, t.created_at, t.due_at, t.extension,
           CASE WHEN t.extension IS NOT NULL THEN 'responsible' END,
           CASE WHEN t.extension IS NOT NULL THEN now() END
    FROM new_rows t
    WHERE t.done_at IS NULL
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;
CREATE TRIGGER inbox_tasks_insert AFTER INSERT ON tasks
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION inbox_tasks_after_insert_v1();

CREATE FUNCTION inbox_tasks_after_done_v1() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE inbox_items
    SET state = 'closed', closed_at = NEW.done_at, closed_reason = 'done', closed_by = NEW.done_by,
        updated_at = now()
    WHERE task_id = NEW.id AND state = 'open';
    RETURN NULL;
END
$$;
CREATE TRIGGER inbox_tasks_done AFTER UPDATE OF done_at ON tasks
    FOR EACH ROW WHEN (OLD.done_at IS NULL AND NEW.done_at IS NOT NULL)
    EXECUTE FUNCTION inbox_tasks_after_done_v1();

CREATE FUNCTION inbox_items_task_closed_v1() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE tasks SET done_at = NEW.closed_at, done_by = NEW.closed_by
    WHERE id = NEW.task_id AND done_at IS NULL;
    RETURN NULL;
END
$$;
CREATE TRIGGER inbox_items_task_closed AFTER UPDATE OF state ON inbox_items
    FOR EACH ROW WHEN (NEW.kind = 'task' AND OLD.state = 'open' AND NEW.state = 'closed')
    EXECUTE FUNCTION inbox_items_task_closed_v1();

-- The tasks open before this migration.
INSERT INTO inbox_items (kind, task_id, contact_id, phone, channel, source, received_at, due_at,
                         assigned_extension, assign_reason, assigned_at)
SELECT 'task', t.id, t.contact_id,
       (SELECT i.value FROM contact_identifiers i
        WHERE i.contact_id = t.contact_id AND i.kind = 'phone' ORDER BY i.created_at, i.value LIMIT 1),
       'task', t.kind, t.created_at, t.due_at, t.extension,
       CASE WHEN t.extension IS NOT NULL THEN 'responsible' END,
       CASE WHEN t.extension IS NOT NULL THEN now() END
FROM tasks t
WHERE t.done_at IS NULL
ON CONFLICT DO NOTHING;

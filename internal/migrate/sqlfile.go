package migrate

import (
	"errors"
	"fmt"
	"strings"
)

// section is the part of a goose SQL file a line belongs to.
type section int

const (
	sectionHeader section = iota // before "-- +goose Up": comments only
	sectionUp
	sectionDown
)

// sqlFile splits the rendered text of a goose SQL file into the statements of its Up section.
type sqlFile struct {
	section section
	block   bool // inside StatementBegin ... StatementEnd
	line    int
	start   int // line where the statement in buf starts
	buf     strings.Builder
	stmts   []string
}

// upStatements returns the statements of the "-- +goose Up" section of a goose SQL file, in order,
// without their final ';'. It understands the goose annotations Up, Down, StatementBegin,
// StatementEnd and NO TRANSACTION (ClickHouse has no transactions: every statement runs on its own,
// so the annotation changes nothing). Outside a StatementBegin/StatementEnd block, a statement ends
// at a line that ends with ';', and lines that are only a "--" comment are dropped. A Down section
// must hold no statement: the operator never migrates down.
func upStatements(text string) ([]string, error) {
	f := &sqlFile{}
	for raw := range strings.Lines(text) {
		f.line++
		if err := f.feed(strings.TrimRight(raw, "\r\n")); err != nil {
			return nil, fmt.Errorf("line %d: %w", f.line, err)
		}
	}
	switch {
	case f.section == sectionHeader:
		return nil, errors.New(`no "-- +goose Up" annotation`)
	case f.block:
		return nil, fmt.Errorf("line %d: StatementBegin without StatementEnd", f.start)
	case strings.TrimSpace(f.buf.String()) != "":
		return nil, fmt.Errorf("line %d: statement does not end with ';'", f.start)
	case len(f.stmts) == 0:
		return nil, errors.New(`the "-- +goose Up" section holds no statement`)
	}
	return f.stmts, nil
}

// feed takes one line.
func (f *sqlFile) feed(line string) error {
	trimmed := strings.TrimSpace(line)
	if directive, ok := strings.CutPrefix(trimmed, "-- +goose "); ok {
		return f.annotation(strings.TrimSpace(directive))
	}
	if f.block {
		f.add(line)
		return nil
	}
	if trimmed == "" || strings.HasPrefix(trimmed, "--") {
		if f.buf.Len() > 0 && trimmed == "" {
			f.add(line)
		}
		return nil
	}
	switch f.section {
	case sectionHeader:
		return errors.New(`SQL before the "-- +goose Up" annotation`)
	case sectionDown:
		return errors.New("a Down section must hold no statement: the operator never migrates down")
	}
	f.add(line)
	if strings.HasSuffix(trimmed, ";") {
		f.flush()
	}
	return nil
}

// annotation handles a "-- +goose" line.
func (f *sqlFile) annotation(directive string) error {
	switch strings.ToUpper(directive) {
	case "UP":
		if f.section != sectionHeader {
			return errors.New(`a second "-- +goose Up" annotation`)
		}
		f.section = sectionUp
	case "DOWN":
		if f.section != sectionUp || f.block || f.buf.Len() > 0 {
			return errors.New(`"-- +goose Down" must follow the complete Up section`)
		}
		f.section = sectionDown
	case "STATEMENTBEGIN":
		if f.section != sectionUp || f.block || strings.TrimSpace(f.buf.String()) != "" {
			return errors.New("StatementBegin must start a statement of the Up section")
		}
		f.block, f.start = true, f.line+1
		f.buf.Reset()
	case "STATEMENTEND":
		if !f.block {
			return errors.New("StatementEnd without StatementBegin")
		}
		f.block = false
		f.flush()
	case "NO TRANSACTION":
	default:
		return fmt.Errorf("unsupported annotation %q (ENVSUB is not supported: use the template variables)", directive)
	}
	return nil
}

// add appends a line to the current statement.
func (f *sqlFile) add(line string) {
	if f.buf.Len() == 0 {
		f.start = f.line
	} else {
		f.buf.WriteByte('\n')
	}
	f.buf.WriteString(line)
}

// flush ends the current statement.
func (f *sqlFile) flush() {
	stmt := strings.TrimSpace(f.buf.String())
	f.buf.Reset()
	stmt = strings.TrimSpace(strings.TrimSuffix(stmt, ";"))
	if stmt != "" {
		f.stmts = append(f.stmts, stmt)
	}
}

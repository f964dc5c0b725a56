package query

import (
	"fmt"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// Params collects the values of a statement's query parameters. Every value a user gives (a filter's
// literal, a flag, a paging token) reaches ClickHouse through one: the statement holds {pN:Type}, and
// the server parses the value as Type, so no value can change the statement.
type Params struct {
	values clickhouse.Parameters
}

// Add binds value as a parameter of ClickHouse type typ (String, UInt16, DateTime64(6, 'UTC'),
// Array(String), ...) and returns its placeholder, e.g. {p3:String}. value is the parameter's text as
// the server parses it for typ: ClickHouse's text format of that type.
func (p *Params) Add(typ, value string) string {
	if p.values == nil {
		p.values = clickhouse.Parameters{}
	}
	name := fmt.Sprintf("p%d", len(p.values))
	p.values[name] = value
	return "{" + name + ":" + typ + "}"
}

// String binds s as a String parameter: its exact text, whatever characters it holds.
func (p *Params) String(s string) string { return p.Add("String", escapeString(s)) }

// escapeString is s as the server reads a String parameter's value: ClickHouse parses a parameter in
// its escaped text format, so backslashes and the characters that end a field are escaped.
var escapeString = strings.NewReplacer(`\`, `\\`, "\t", `\t`, "\n", `\n`, "\r", `\r`, "\x00", `\0`).Replace

// Values are the parameters bound so far, by name, for clickhouse.WithParameters.
func (p *Params) Values() clickhouse.Parameters { return p.values }

// Channel concat of two pixel streams (a fire module's expand1x1 and expand3x3): output channels
// A then B. Codes on different scales are aligned to the finer one by an exact left shift
// (golden concat); the generator passes the shifts and the output code width.
// A join without a register: the output is the two inputs side by side, valid when both are,
// and each input is taken when the output is. Both inputs come from registered block outputs,
// so this adds only wiring and an AND gate to their paths; a register here would hold a whole
// (CA+CB)-channel pixel in flip-flops (4,096 in each of SqueezeNet v1.1's late fires).
`default_nettype none
module accel_concat #(
    parameter CA = 8,  parameter BA = 8, parameter SHA = 0,
    parameter CB = 8,  parameter BB = 8, parameter SHB = 0,
    parameter SIGNED = 0,
    parameter OB = 8                      // output code width
) (
    input  wire                    clk,
    input  wire                    rst_n,
    input  wire [CA*BA-1:0]        a_data,
    input  wire                    a_last,
    input  wire                    a_valid,
    output wire                    a_ready,
    input  wire [CB*BB-1:0]        b_data,
    input  wire                    b_last,
    input  wire                    b_valid,
    output wire                    b_ready,
    output wire [(CA+CB)*OB-1:0]   m_data,
    output wire                    m_last,
    output wire                    m_valid,
    input  wire                    m_ready
);
    assign m_valid = a_valid && b_valid;
    assign a_ready = m_valid && m_ready;
    assign b_ready = m_valid && m_ready;
    assign m_last  = a_last;
    // Widen each code to OB bits (sign- or zero-extend), then shift: generate, not a ?: between
    // a signed and an unsigned operand (that would make both unsigned).
    wire [(CA+CB)*OB-1:0] cat;
    genvar i;
    generate
        for (i = 0; i < CA; i = i + 1) begin : g_a
            wire [BA-1:0] v = a_data[i*BA +: BA];
            wire [OB-1:0] e = SIGNED ? {{OB{v[BA-1]}}, v} : {{OB{1'b0}}, v};
            assign cat[i*OB +: OB] = e << SHA;
        end
        for (i = 0; i < CB; i = i + 1) begin : g_b
            wire [BB-1:0] v = b_data[i*BB +: BB];
            wire [OB-1:0] e = SIGNED ? {{OB{v[BB-1]}}, v} : {{OB{1'b0}}, v};
            assign cat[(CA+i)*OB +: OB] = e << SHB;
        end
    endgenerate
    assign m_data = cat;
endmodule
`default_nettype wire
